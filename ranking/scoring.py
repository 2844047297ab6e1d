"""The ranking math (pure): a strategy x parameter set is scored on a market by its decay-weighted Sharpe ratio over a
rolling window, so recent candles weigh more than old ones (AmpyFin ranks its strategies on recent performance).

Per-candle returns r_0..r_{n-1} (oldest first) of the backtest's equity curve get weights w_t = 0.5 ** ((n-1-t) / h)
(``h`` = half_life in candles: the latest candle weighs 1, one half-life ago 0.5). Then

    mean_d = sum(w r) / sum(w),   sd_d = sqrt(sum(w (r - mean_d)^2) / sum(w)),   score = mean_d / sd_d * sqrt(k)

with k the periods per year of the timeframe (an annualised figure; k = 1 gives the raw per-candle ratio). A flat curve
(no trade, sd_d = 0) scores 0: nothing earned, nothing risked, ranked below every winner and above every loser.
"""

import itertools
import math
from collections.abc import Sequence

TIMEFRAME_MINUTES = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440}


def periods_per_year(timeframe: str) -> float:
    return 365 * 24 * 60 / TIMEFRAME_MINUTES[timeframe]


def decay_weights(n: int, half_life: float) -> list[float]:
    """Weights of ``n`` observations, oldest first: the newest is 1, each ``half_life`` older halves it."""
    if half_life <= 0:
        raise ValueError("half_life must be positive")
    return [0.5 ** ((n - 1 - t) / half_life) for t in range(n)]


def returns_of(equity: Sequence[float]) -> list[float]:
    """Per-period simple returns of an equity curve (values, oldest first)."""
    return [(b / a - 1) if a else 0.0 for a, b in itertools.pairwise(equity)]


def decayed_stats(returns: Sequence[float], half_life: float) -> tuple[float, float]:
    """(decay-weighted mean, decay-weighted standard deviation) of ``returns``."""
    if not returns:
        return 0.0, 0.0
    weights = decay_weights(len(returns), half_life)
    total = sum(weights)
    mean = sum(w * r for w, r in zip(weights, returns, strict=True)) / total
    var = sum(w * (r - mean) ** 2 for w, r in zip(weights, returns, strict=True)) / total
    return mean, math.sqrt(max(var, 0.0))


def decayed_score(returns: Sequence[float], half_life: float, annualise: float = 1.0) -> float:
    """The decay-weighted Sharpe ratio (see the module docstring); 0.0 for a flat or empty series."""
    mean, sd = decayed_stats(returns, half_life)
    if sd <= 1e-12:
        return 0.0
    return mean / sd * math.sqrt(annualise)


def model_metrics(metrics: dict) -> dict:
    """The ranking table's metrics (the names AmpyFin and W&B use) from a backtest's metrics (research.backtest)."""
    round_trips = int(metrics.get("round_trips") or 0)
    win_rate = metrics.get("win_rate")
    sharpe = metrics.get("sharpe")
    return {
        "total_trades": round_trips,
        "success_rate": round(float(win_rate), 6) if win_rate is not None else 0.0,
        "total_return": round(float(metrics.get("total_return") or 0.0), 8),
        "sharpe_ratio": round(float(sharpe), 6) if sharpe is not None else 0.0,
        "max_drawdown": round(float(metrics.get("max_drawdown") or 0.0), 8),
    }
