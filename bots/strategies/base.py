"""Strategy building blocks: plain Python over OHLCV arrays (numpy), no Django, so they also run in a backtest.

candles: array-like of rows [timestamp_ms, open, high, low, close, volume], oldest first (the last row is the latest
closed candle). position: None when flat, else a dict with at least "entry_price", and optionally "stop_loss" and
"take_profit". A strategy returns a Signal or None.

Confidence (0..1, recorded with every signal and shown as a percentage in /api/signals) comes from the strategy's own
indicator: how far past its threshold the indicator went on the deciding candle (entry() and exit_signal() return
``(confidence, reason)``; each strategy's docstring says how). A risk exit (stop loss or take profit hit) is 1.0: the
level was crossed, nothing is estimated.
"""

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

TS, OPEN, HIGH, LOW, CLOSE, VOLUME = range(6)


@dataclass(frozen=True)
class RiskProfile:
    position_pct: float  # share of the bot's capital put into one position
    stop_loss_pct: float
    take_profit_pct: float


RISK_PROFILES = {
    "safe": RiskProfile(position_pct=0.10, stop_loss_pct=0.01, take_profit_pct=0.02),
    "balanced": RiskProfile(position_pct=0.20, stop_loss_pct=0.02, take_profit_pct=0.04),
    "aggressive": RiskProfile(position_pct=0.35, stop_loss_pct=0.035, take_profit_pct=0.07),
}


@dataclass(frozen=True)
class Signal:
    side: str  # "buy" opens a long position, "sell" closes it
    entry: float
    target: float | None
    stop_loss: float | None
    confidence: float
    reason: str
    candle_ts: int  # the candle the decision was made on: part of the idempotent client order id
    extra: dict = field(default_factory=dict)


def clamp_confidence(value):
    """A confidence in 0..1, rounded to 3 places."""
    return round(float(min(max(value, 0.0), 1.0)), 3)


def scaled_confidence(excess, scale):
    """0.5 at the indicator's threshold, rising by ``excess * scale`` up to 1.0: the shared shape of every strategy's
    confidence (``excess`` is how far past the threshold the indicator went)."""
    return 0.5 + min(max(float(excess), 0.0) * scale, 0.5)


def as_array(candles):
    array = np.asarray(candles, dtype=float)
    if array.ndim != 2 or array.shape[1] < 6:
        raise ValueError("candles must be rows of [ts, open, high, low, close, volume]")
    return array


@lru_cache(maxsize=512)
def _ema_weights(period, n):
    """The n x n lower-triangular matrix W with (W @ (x - x[0]))[i] + x[0] = the EMA of x at i."""
    alpha = 2.0 / (period + 1)
    index = np.arange(n)
    lag = index[:, None] - index[None, :]
    weights = np.where((lag >= 0) & (index[None, :] >= 1), alpha * (1 - alpha) ** np.clip(lag, 0, None), 0.0)
    weights.setflags(write=False)
    return weights


def ema(values, period):
    """Exponential moving average seeded with the first value: ema[0] = x[0], ema[i] = a x[i] + (1 - a) ema[i-1],
    a = 2 / (period + 1), computed in closed form as one matrix product over the deviations from x[0] (a flat series
    stays exactly flat). A backtest calls this once per candle (research.backtest): the loop was its hot spot."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return values.copy()
    first = values[0]
    return _ema_weights(int(period), len(values)) @ (values - first) + first


class Strategy:
    """Subclasses implement entry() and exit_signal(); risk exits (stop loss, take profit) are shared."""

    name = "base"
    title = ""  # shown in GET /api/strategies and the portal's form; else derived from name
    description = ""  # else the class docstring's first paragraph
    kind = "indicator"  # "indicator": decides on candles each tick; "webhook": trades only on received alerts
    # Parameter declarations (bots.strategies.params): {"name": {"type", "minimum", "maximum", "default", "title",
    # "description"}}. ``defaults`` is derived from them; a class without PARAMS may set ``defaults`` alone.
    PARAMS: dict = {}
    defaults: dict = {}
    min_candles = 2

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("PARAMS"):
            cls.defaults = {name: spec["default"] for name, spec in cls.PARAMS.items() if "default" in spec}

    def params(self, params):
        merged = dict(self.defaults)
        merged.update({k: v for k, v in (params or {}).items() if k in self.defaults})
        return merged

    def decide(self, candles, position=None, params=None, risk_mode="balanced"):
        data = as_array(candles)
        p = self.params(params)
        if len(data) < max(self.min_candles, self.required_candles(p)):
            return None
        last = data[-1]
        price, ts = float(last[CLOSE]), int(last[TS])
        risk = RISK_PROFILES.get(risk_mode, RISK_PROFILES["balanced"])
        if position:
            stop, target = position.get("stop_loss"), position.get("take_profit")
            if stop is not None and float(last[LOW]) <= float(stop):
                return Signal("sell", price, None, None, 1.0, f"stop loss hit at {float(stop):.2f}", ts)
            if target is not None and float(last[HIGH]) >= float(target):
                return Signal("sell", price, None, None, 1.0, f"take profit reached at {float(target):.2f}", ts)
            found = self.exit_signal(data, position, p)
            if not found:
                return None
            confidence, reason = found
            return Signal("sell", price, None, None, clamp_confidence(confidence), reason, ts)
        found = self.entry(data, p)
        if not found:
            return None
        confidence, reason = found
        return Signal(
            "buy",
            price,
            price * (1 + risk.take_profit_pct),
            price * (1 - risk.stop_loss_pct),
            clamp_confidence(confidence),
            reason,
            ts,
        )

    def required_candles(self, params):
        return self.min_candles

    def entry(self, data, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def exit_signal(self, data, position, params):  # pragma: no cover - abstract
        raise NotImplementedError


# --- Exits and protections: parameters every bot has, whatever its strategy (bots.exits, bots.protections) --------
# Declared like a strategy's PARAMS ({name: JSON Schema}); 0 turns a feature off, and every one is off by default, so a
# bot trades as before until its owner sets them (PATCH /api/bots/{id} params, or per position: PUT
# /api/positions/{id}/exits).
def _pct(description, maximum=1000.0):
    return {"type": "number", "minimum": 0, "maximum": maximum, "default": 0, "description": description}


EXIT_PARAMS = {
    "tp1_at_pct": _pct("First take-profit target: profit % above the entry price (0: no targets)"),
    "tp1_size_pct": _pct("Share of the position (%) the first target sells", 100),
    "tp2_at_pct": _pct("Second take-profit target: profit % above the entry price (0: none)"),
    "tp2_size_pct": _pct("Share of the position (%) the second target sells", 100),
    "trailing_stop_pct": _pct("Trailing stop loss: sell when the price falls this % below its high since entry", 100),
    "trailing_tp_activate_pct": _pct("Trailing take profit: arms once the profit reaches this %"),
    "trailing_tp_callback_pct": _pct("Trailing take profit: sells when the price falls this % from its high", 100),
    "breakeven_after_tp1": {
        "type": "integer",
        "minimum": 0,
        "maximum": 1,
        "default": 0,
        "description": "1: after the first target fills, the stop moves to the entry price",
    },
    "time_stop_minutes": {
        "type": "integer",
        "minimum": 0,
        "maximum": 525600,
        "default": 0,
        "description": "Close the position after this many minutes (0: never)",
    },
}

PROTECTION_PARAMS = {
    "sl_guard_count": {
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
        "default": 0,
        "description": "Stop-loss guard: this many stop-loss exits within the window pause new entries (0: off)",
    },
    "sl_guard_window_minutes": {
        "type": "integer",
        "minimum": 1,
        "maximum": 43200,
        "default": 60,
        "description": "Stop-loss guard: the window (minutes); entries resume once it no longer holds N stops",
    },
    "max_drawdown_pct": _pct("Pause new entries while the bot's capital is this % below its peak (0: off)", 100),
    "cooldown_minutes": {
        "type": "integer",
        "minimum": 0,
        "maximum": 43200,
        "default": 0,
        "description": "No new entry for this many minutes after a position closes (0: off)",
    },
    "pair_lock_trips": {
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
        "default": 0,
        "description": "Low-profit pair lock: how many of the symbol's latest round trips are judged (0: off)",
    },
    "pair_lock_min_profit_pct": {
        "type": "number",
        "minimum": -100,
        "maximum": 100,
        "default": 0,
        "description": "Low-profit pair lock: their P&L (% of the bot's initial capital) below this locks the symbol",
    },
    "pair_lock_minutes": {
        "type": "integer",
        "minimum": 1,
        "maximum": 43200,
        "default": 60,
        "description": "Low-profit pair lock: how long the symbol stays locked after the last of those round trips",
    },
}

BOT_PARAMS = {**EXIT_PARAMS, **PROTECTION_PARAMS}


def check_bot_param(name, value):
    """An error message for a bad value of one of BOT_PARAMS, or None when it is valid."""
    spec = BOT_PARAMS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return "must be a number"
    if spec["type"] == "integer" and int(value) != value:
        return "must be a whole number"
    if not spec["minimum"] <= value <= spec["maximum"]:
        return f"must be between {spec['minimum']} and {spec['maximum']}"
    return None
