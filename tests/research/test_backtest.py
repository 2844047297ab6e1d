"""The backtest runner: the paper bot's trades on the same candles, hand-checked metrics, walk-forward, Monte Carlo,
cancellation."""

import math
from decimal import Decimal

import numpy as np
import pytest

from bots import engine
from bots.services import create_bot
from research.backtest import Canceled, compute_metrics, run_backtest
from research.robustness import monte_carlo, walk_forward
from trading.exchanges import simfeed
from trading.models import Trade


def wave(n, base=1_200_000.0, seed=7):
    """n 1-minute candles of a noisy sine wave (BTC/ZAR-like prices): momentum crosses up and down many times."""
    rng = np.random.default_rng(seed)
    close = base * (1 + 0.01 * np.sin(np.arange(n) / 9.0) + np.cumsum(rng.normal(0, 0.0008, n)))
    rows = []
    for i in range(n):
        open_ = close[i - 1] if i else close[i]
        high = max(open_, close[i]) * (1 + abs(rng.normal(0, 0.0004)))
        low = min(open_, close[i]) * (1 - abs(rng.normal(0, 0.0004)))
        rows.append([1_700_000_000_000 + i * 60_000, open_, high, low, close[i], float(rng.lognormal(0, 0.5))])
    return rows


@pytest.mark.django_db
@pytest.mark.parametrize("strategy", ["momentum", "mean_reversion"])
def test_backtest_reproduces_the_paper_bots_trades(user, monkeypatch, strategy):
    """A paper bot ticked by the real engine over N candles (the last 100 each tick, the quote around each candle's
    close) and a backtest over the same candles make the same trades: side, amount, price, fee."""
    candles = wave(400)
    bot = create_bot(
        user, name="Twin", exchange="luno", symbol="BTC/ZAR", initial_capital=Decimal("50000"), strategy=strategy
    )
    now = {"close": candles[0][4]}
    monkeypatch.setattr(simfeed, "ticker", lambda symbol, now_=None: simfeed.quote(symbol, now["close"]))
    for i in range(len(candles)):
        now["close"] = candles[i][4]
        assert engine.tick_bot(bot.pk, candles[max(0, i - 99) : i + 1]) in ("ok", "traded")
    paper = [(t.side, t.amount, t.price, t.fee) for t in Trade.objects.filter(bot=bot).order_by("created_at", "pk")]
    result = run_backtest(
        strategy, {}, candles, initial_capital=Decimal("50000"), exchange="luno", symbol="BTC/ZAR", risk_mode="balanced"
    )
    backtest = [(t["side"], Decimal(t["amount"]), Decimal(t["price"]), Decimal(t["fee"])) for t in result.trades]
    assert len(paper) >= 6, "the scripted candles should make several round trips"
    assert backtest == paper
    profits = [t.profit_loss for t in Trade.objects.filter(bot=bot).order_by("created_at", "pk")]
    assert [Decimal(t["profit_loss"]) for t in result.trades] == profits
    bot.refresh_from_db()
    last_close = candles[-1][4]
    held = sum((Decimal(t["amount"]) * (1 if t["side"] == "buy" else -1) for t in result.trades), Decimal(0))
    if held == 0:  # flat at the end: the backtest's equity is the bot's capital
        assert math.isclose(result.metrics["final_equity"], float(bot.current_capital), rel_tol=1e-9)
    assert result.metrics["trades"] == len(paper)
    assert last_close > 0


def test_metrics_on_a_hand_computed_series():
    """Equity 100 -> 110 -> 99 -> 121 over 3 days, two round trips (+10, -11... as booked), hand-computed figures."""
    day = 86_400_000
    ts = np.array([0, day, 2 * day, 3 * day], dtype=float)
    equity = np.array([100.0, 110.0, 99.0, 121.0])
    closes = np.array([10.0, 11.0, 9.0, 12.0])
    held = np.array([0.0, 1.0, 1.0, 0.0])
    trades = [
        {"side": "buy", "profit_loss": "0"},
        {"side": "sell", "profit_loss": "10"},
        {"side": "buy", "profit_loss": "0"},
        {"side": "sell", "profit_loss": "-4"},
        {"side": "sell", "profit_loss": "6"},
    ]
    m = compute_metrics(equity, ts, closes, trades, held, Decimal("1.5"))
    assert m["total_return"] == pytest.approx(0.21)
    assert m["max_drawdown"] == pytest.approx(99 / 110 - 1)  # -10 %
    returns = np.array([0.1, -0.1, 22 / 99])
    mean, sd = returns.mean(), returns.std(ddof=1)
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(365), rel=1e-5)
    downside = math.sqrt(0.01 / 3)
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(365), rel=1e-5)
    assert m["cagr"] == pytest.approx(1.21 ** (365 / 3) - 1, rel=1e-6)
    assert m["win_rate"] == pytest.approx(2 / 3, rel=1e-5)
    assert m["profit_factor"] == pytest.approx(16 / 4)
    assert m["exposure"] == pytest.approx(0.5)
    assert m["fees_paid"] == "1.5"
    assert m["buy_and_hold_return"] == pytest.approx(0.2)


@pytest.mark.django_db
def test_equity_curve_buy_and_hold_and_fees():
    candles = wave(600)
    result = run_backtest("momentum", {}, candles, initial_capital="10000", exchange="luno", symbol="BTC/ZAR")
    m = result.metrics
    assert result.equity[0] == [candles[0][0], 10000.0]
    assert result.buy_and_hold[-1][1] == pytest.approx(10000 * candles[-1][4] / candles[0][4])
    assert Decimal(m["fees_paid"]) == sum(Decimal(t["fee"]) for t in result.trades)
    assert min(d for _, d in result.drawdown) == pytest.approx(m["max_drawdown"], abs=1e-6)
    # A fixed slippage and fee replace the paper exchange's defaults.
    cheap = run_backtest(
        "momentum", {}, candles, initial_capital="10000", exchange="luno", symbol="BTC/ZAR", fee_rate=0, slippage=0
    )
    assert Decimal(cheap.metrics["fees_paid"]) == 0
    assert cheap.metrics["final_equity"] > m["final_equity"]


@pytest.mark.django_db
def test_walk_forward_and_monte_carlo():
    candles = np.array(wave(800), dtype=float)
    options = {"initial_capital": Decimal("10000"), "exchange": "luno", "symbol": "BTC/ZAR"}
    wf = walk_forward("momentum", {}, candles, **options)
    assert wf["split_ts"] == int(candles[560][0])
    assert wf["in_sample"]["trades"] > 0 and wf["out_of_sample"]["trades"] > 0
    result = run_backtest("momentum", {}, candles, **options)
    mc = monte_carlo(result.trades, Decimal("10000"), runs=300, seed=1)
    profits = [float(t["profit_loss"]) for t in result.trades if t["side"] == "sell"]
    assert mc["runs"] == 300 and mc["round_trips"] == len(profits)
    assert mc["final_equity"] == pytest.approx(10000 + sum(profits))  # the order never changes the sum
    assert mc["worst_max_drawdown"] <= mc["max_drawdown"]["p5"] <= mc["max_drawdown"]["p50"] <= 0
    assert mc["worst_max_drawdown"] <= mc["actual_max_drawdown"]
    assert sum(count for _, count in mc["histogram"]) == 300


@pytest.mark.django_db
def test_cancel_and_progress_between_chunks():
    candles = wave(300)
    seen = []
    with pytest.raises(Canceled):
        run_backtest(
            "momentum",
            {},
            candles,
            exchange="luno",
            symbol="BTC/ZAR",
            chunk=50,
            progress=seen.append,
            should_cancel=lambda: len(seen) >= 2,
        )
    assert seen == [50 / 300, 100 / 300]
