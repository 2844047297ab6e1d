"""Strategies on known OHLCV series (no Django needed)."""

import math

import numpy as np
import pytest

from bots.strategies import RISK_PROFILES, get_strategy, supertrend
from bots.strategies.base import as_array


def candles_from(closes, highs=None, lows=None, volumes=None):
    rows = []
    for i, close in enumerate(closes):
        high = highs[i] if highs else close + 0.5
        low = lows[i] if lows else close - 0.5
        volume = volumes[i] if volumes else 10.0
        rows.append([i * 60_000, closes[i - 1] if i else close, high, low, close, volume])
    return rows


def test_supertrend_hand_checked():
    # period 3, multiplier 1; values worked out by hand (see the derivation in the strategy docstring's algorithm):
    # TR = 2,2,2,2,2.5,2 ; ATR[2]=2, ATR[3]=2, ATR[4]=6.5/3, ATR[5]=(13/3+2)/3
    data = as_array(
        [
            [0, 9, 10, 8, 9, 1],
            [1, 9, 11, 9, 10, 1],
            [2, 10, 12, 10, 11, 1],
            [3, 11, 11, 9, 9.5, 1],
            [4, 9.5, 9, 7, 7.5, 1],
            [5, 7.5, 8, 6, 6.5, 1],
        ]
    )
    line, trend = supertrend(data, period=3, multiplier=1.0)
    assert math.isnan(trend[0]) and math.isnan(trend[1])
    assert list(trend[2:]) == [1, 1, -1, -1]
    np.testing.assert_allclose(line[2:], [9.0, 9.0, 10 + 1 / 6, 7 + 19 / 9], rtol=1e-9)


def test_supertrend_strategy_exit_on_flip():
    data = [
        [0, 9, 10, 8, 9, 1],
        [1, 9, 11, 9, 10, 1],
        [2, 10, 12, 10, 11, 1],
        [3, 11, 11, 9, 9.5, 1],
        [4, 9.5, 9, 7, 7.5, 1],
    ]
    strategy = get_strategy("supertrend")
    position = {"entry_price": 10.0}
    assert strategy.decide(data[:4], position, {"period": 3, "multiplier": 1.0}) is None
    signal = strategy.decide(data, position, {"period": 3, "multiplier": 1.0})
    assert signal.side == "sell" and "Supertrend(3, 1.0) exit" in signal.reason


def test_momentum_enters_on_the_crossing_candle_only():
    closes = [100.0] * 25 + [101.0, 103.0]
    strategy = get_strategy("momentum")
    assert strategy.decide(candles_from(closes[:25])) is None
    signal = strategy.decide(candles_from(closes[:26]))
    assert signal.side == "buy" and signal.entry == 101.0
    assert "EMA5 crossed above EMA20" in signal.reason and 0.5 <= signal.confidence <= 1
    balanced = RISK_PROFILES["balanced"]
    assert signal.stop_loss == pytest.approx(101 * (1 - balanced.stop_loss_pct))
    assert signal.target == pytest.approx(101 * (1 + balanced.take_profit_pct))
    assert signal.candle_ts == 25 * 60_000
    assert strategy.decide(candles_from(closes)) is None  # already above: no new crossing


def test_momentum_exits_on_cross_down():
    closes = [100.0] * 25 + [103.0, 104.0, 104.0, 96.0]
    signal = get_strategy("momentum").decide(candles_from(closes), position={"entry_price": 103.0})
    assert signal.side == "sell" and "crossed below" in signal.reason


def test_risk_modes_set_stop_and_target():
    closes = [100.0] * 25 + [101.0]
    safe = get_strategy("momentum").decide(candles_from(closes), risk_mode="safe")
    aggressive = get_strategy("momentum").decide(candles_from(closes), risk_mode="aggressive")
    assert safe.stop_loss > aggressive.stop_loss and safe.target < aggressive.target


def test_breakout_needs_volume():
    closes = [100.0] * 20 + [102.0]
    highs = [101.0] * 20 + [102.5]
    quiet = candles_from(closes, highs=highs, volumes=[10.0] * 20 + [12.0])
    loud = candles_from(closes, highs=highs, volumes=[10.0] * 20 + [20.0])
    strategy = get_strategy("breakout")
    assert strategy.decide(quiet) is None
    signal = strategy.decide(loud)
    assert signal.side == "buy" and "broke the 20-candle high 101.00 on 2.0x volume" in signal.reason
    assert strategy.decide(loud, params={"volume_threshold": 2.5}) is None


def test_mean_reversion_entry_and_exit():
    closes = [100.0, 101.0] * 10 + [95.0]
    strategy = get_strategy("mean_reversion")
    signal = strategy.decide(candles_from(closes))
    assert signal.side == "buy" and "sd below its mean" in signal.reason
    back = [100.0, 101.0] * 10 + [101.0]
    assert strategy.decide(candles_from(back), position={"entry_price": 95.0}).side == "sell"


def test_stop_loss_and_take_profit_exit_first():
    closes = [100.0] * 30
    strategy = get_strategy("momentum")
    stop = strategy.decide(candles_from(closes), position={"entry_price": 101, "stop_loss": 99.6, "take_profit": 110})
    assert stop.side == "sell" and stop.reason.startswith("stop loss hit")
    target = strategy.decide(candles_from(closes), position={"entry_price": 95, "stop_loss": 90, "take_profit": 100.4})
    assert target.side == "sell" and target.reason.startswith("take profit")


def test_too_few_candles_and_bad_input():
    assert get_strategy("breakout").decide(candles_from([100.0] * 5)) is None
    with pytest.raises(ValueError):
        get_strategy("momentum").decide([[1, 2, 3]])
    with pytest.raises(KeyError):
        get_strategy("martingale")
