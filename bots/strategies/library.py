"""The strategies users can pick. Parameter names follow what ROBOAi and AlgoMirror users know."""

import numpy as np

from bots.strategies.base import CLOSE, HIGH, LOW, VOLUME, Strategy, ema, scaled_confidence
from bots.strategies.managed import MANAGED


class Momentum(Strategy):
    """Fast EMA crossing above the slow EMA with positive rate of change enters; crossing back below exits.

    Confidence: 0.5 + 100 x the gap between the EMAs as a fraction of the slow EMA (at most 1.0), entry and exit."""

    name = "momentum"
    title = "Momentum"
    PARAMS = {
        "fast": {
            "type": "integer",
            "minimum": 2,
            "maximum": 97,
            "default": 5,
            "title": "Fast EMA",
            "description": "Candles of the fast moving average",
        },
        "slow": {
            "type": "integer",
            "minimum": 3,
            "maximum": 98,
            "default": 20,
            "title": "Slow EMA",
            "description": "Candles of the slow moving average",
        },
        "min_roc": {
            "type": "number",
            "minimum": -1,
            "maximum": 1,
            "default": 0.0,
            "title": "Minimum rate of change",
            "description": "Least price change over the fast window to enter (0.01 = 1%)",
        },
    }

    def required_candles(self, p):
        return int(p["slow"]) + 2

    def entry(self, data, p):
        close = data[:, CLOSE]
        fast, slow = ema(close, int(p["fast"])), ema(close, int(p["slow"]))
        crossed_up = fast[-1] > slow[-1] and fast[-2] <= slow[-2]
        roc = close[-1] / close[-int(p["fast"]) - 1] - 1
        if crossed_up and roc > float(p["min_roc"]):
            gap = (fast[-1] - slow[-1]) / slow[-1]
            return 0.5 + min(gap * 100, 0.5), f"EMA{int(p['fast'])} crossed above EMA{int(p['slow'])} (ROC {roc:.2%})"
        return None

    def exit_signal(self, data, position, p):
        close = data[:, CLOSE]
        fast, slow = ema(close, int(p["fast"])), ema(close, int(p["slow"]))
        if fast[-1] < slow[-1] and fast[-2] >= slow[-2]:
            gap = (slow[-1] - fast[-1]) / slow[-1]
            return scaled_confidence(gap, 100), f"EMA{int(p['fast'])} crossed below EMA{int(p['slow'])}"
        return None


class Breakout(Strategy):
    """Close above the highest high of the lookback window on volume above threshold x average volume.

    Confidence: entry 0.5 + 0.25 per threshold multiple of volume beyond the first; exit 0.5 + 100 x how far (as a
    fraction) the close fell below the exit low."""

    name = "breakout"
    title = "Breakout"
    PARAMS = {
        "lookback": {
            "type": "integer",
            "minimum": 2,
            "maximum": 99,
            "default": 20,
            "title": "Lookback",
            "description": "Candles whose highest high the close must break",
        },
        "volume_threshold": {
            "type": "number",
            "minimum": 0.1,
            "maximum": 20,
            "default": 1.5,
            "title": "Volume threshold",
            "description": "Volume needed, as a multiple of the average volume",
        },
    }

    def required_candles(self, p):
        return int(p["lookback"]) + 1

    def entry(self, data, p):
        n = int(p["lookback"])
        window = data[-n - 1 : -1]
        high = window[:, HIGH].max()
        avg_volume = window[:, VOLUME].mean()
        close, volume = data[-1, CLOSE], data[-1, VOLUME]
        if close > high and avg_volume > 0 and volume >= float(p["volume_threshold"]) * avg_volume:
            strength = volume / avg_volume / float(p["volume_threshold"])
            return min(0.5 + 0.25 * (strength - 1), 1.0), (
                f"close {close:.2f} broke the {n}-candle high {high:.2f} on {volume / avg_volume:.1f}x volume"
            )
        return None

    def exit_signal(self, data, position, p):
        n = max(int(p["lookback"]) // 2, 2)
        low = data[-n - 1 : -1, LOW].min()
        if data[-1, CLOSE] < low:
            depth = (low - data[-1, CLOSE]) / low if low > 0 else 0.0
            return scaled_confidence(depth, 100), f"close fell below the {n}-candle low {low:.2f}"
        return None


class MeanReversion(Strategy):
    """Buy when the close is ``entry_z`` standard deviations below its moving average; sell when it is back above.

    Confidence: 0.5 + 0.25 per standard deviation beyond the entry (or exit) z-score."""

    name = "mean_reversion"
    title = "Mean reversion"
    PARAMS = {
        "period": {
            "type": "integer",
            "minimum": 2,
            "maximum": 99,
            "default": 20,
            "title": "Period",
            "description": "Candles of the moving average and standard deviation",
        },
        "entry_z": {
            "type": "number",
            "minimum": 0.1,
            "maximum": 10,
            "default": 2.0,
            "title": "Entry z-score",
            "description": "Standard deviations below the mean to buy",
        },
        "exit_z": {
            "type": "number",
            "minimum": -10,
            "maximum": 10,
            "default": 0.0,
            "title": "Exit z-score",
            "description": "Z-score at or above which the position is sold",
        },
    }

    def required_candles(self, p):
        return int(p["period"]) + 1

    def _z(self, data, p):
        close = data[-int(p["period"]) :, CLOSE]
        sd = close.std()
        return 0.0 if sd == 0 else (data[-1, CLOSE] - close.mean()) / sd

    def entry(self, data, p):
        z = self._z(data, p)
        if z <= -float(p["entry_z"]):
            return min(0.5 + (abs(z) - float(p["entry_z"])) * 0.25, 1.0), f"close is {abs(z):.2f} sd below its mean"
        return None

    def exit_signal(self, data, position, p):
        z = self._z(data, p)
        if z >= float(p["exit_z"]):
            return scaled_confidence(z - float(p["exit_z"]), 0.25), f"close reverted to {z:+.2f} sd of its mean"
        return None


def supertrend(data, period=10, multiplier=3.0):
    """(line, trend) arrays; trend is +1 (up) / -1 (down), NaN before ``period`` candles. Wilder's ATR."""
    high, low, close = data[:, HIGH], data[:, LOW], data[:, CLOSE]
    n = len(close)
    tr = np.empty(n)
    tr[0] = high[0] - low[0]
    for i in range(1, n):
        tr[i] = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
    atr = np.full(n, np.nan)
    line = np.full(n, np.nan)
    trend = np.full(n, np.nan)
    if n < period:
        return line, trend
    atr[period - 1] = tr[:period].mean()
    for i in range(period, n):
        atr[i] = (atr[i - 1] * (period - 1) + tr[i]) / period
    hl2 = (high + low) / 2
    upper, lower = hl2 + multiplier * atr, hl2 - multiplier * atr
    final_upper, final_lower = upper.copy(), lower.copy()
    start = period - 1
    trend[start] = 1
    line[start] = final_lower[start]
    for i in range(start + 1, n):
        if not (upper[i] < final_upper[i - 1] or close[i - 1] > final_upper[i - 1]):
            final_upper[i] = final_upper[i - 1]
        if not (lower[i] > final_lower[i - 1] or close[i - 1] < final_lower[i - 1]):
            final_lower[i] = final_lower[i - 1]
        if trend[i - 1] == 1:
            trend[i] = -1 if close[i] < final_lower[i] else 1
        else:
            trend[i] = 1 if close[i] > final_upper[i] else -1
        line[i] = final_lower[i] if trend[i] == 1 else final_upper[i]
    return line, trend


class SupertrendStrategy(Strategy):
    """Enter when Supertrend flips up; exit when it flips down (AlgoMirror's Supertrend exit: period, multiplier).

    Confidence: how far the close cleared the Supertrend line, in band widths (multiplier x ATR: the distance from the
    candle's midpoint to the line): 0.5 at one band width, + 0.5 per band width beyond it, at most 1.0."""

    name = "supertrend"
    title = "Supertrend"
    PARAMS = {
        "period": {
            "type": "integer",
            "minimum": 2,
            "maximum": 98,
            "default": 10,
            "title": "ATR period",
            "description": "Candles of the average true range",
        },
        "multiplier": {
            "type": "number",
            "minimum": 0.1,
            "maximum": 20,
            "default": 3.0,
            "title": "Multiplier",
            "description": "Band width in ATRs",
        },
    }

    def required_candles(self, p):
        return int(p["period"]) + 2

    @staticmethod
    def _confidence(data, line):
        mid = (data[-1, HIGH] + data[-1, LOW]) / 2
        band = abs(mid - line)
        clearance = abs(data[-1, CLOSE] - line) / band if band > 0 else 1.0
        return scaled_confidence(clearance - 1, 0.5)

    def entry(self, data, p):
        line, trend = supertrend(data, int(p["period"]), float(p["multiplier"]))
        if trend[-1] == 1 and trend[-2] == -1:
            reason = f"Supertrend({int(p['period'])}, {float(p['multiplier'])}) turned up at {line[-1]:.2f}"
            return self._confidence(data, line[-1]), reason
        return None

    def exit_signal(self, data, position, p):
        line, trend = supertrend(data, int(p["period"]), float(p["multiplier"]))
        if trend[-1] == -1:
            reason = f"Supertrend({int(p['period'])}, {float(p['multiplier'])}) exit: close below {line[-1]:.2f}"
            return self._confidence(data, line[-1]), reason
        return None


STRATEGIES = {cls.name: cls for cls in (Momentum, Breakout, MeanReversion, SupertrendStrategy, *MANAGED.values())}
# The strategies that decide on candles alone (decide(candles, position, params, risk_mode)): what backtests and the
# strategy ranking run. DCA and grid manage resting orders instead (bots.strategies.managed).
INDICATOR_STRATEGIES = {name: cls for name, cls in STRATEGIES.items() if name not in MANAGED}


def get_strategy(name):
    cls = STRATEGIES.get(name)
    if cls is None:
        raise KeyError(name)
    return cls()
