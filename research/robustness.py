"""Robustness checks on top of the runner (pure): walk-forward (in-sample / out-of-sample split) and a Monte Carlo
reshuffle of the order of the round trips' P&L, which gives a distribution of drawdowns."""

from decimal import Decimal
from typing import Any

import numpy as np

from research.backtest import WINDOW, run_backtest


def walk_forward(
    strategy_id: str, params: dict | None, candles: np.ndarray, *, split: float = 0.7, **options: Any
) -> dict:
    """The same strategy and parameters on the first ``split`` of the candles (in-sample) and on the rest
    (out-of-sample, warmed up on the ``WINDOW`` candles before it, which it does not trade): their metrics side by
    side. A strategy that only shines in-sample is curve-fitted."""
    n = len(candles)
    cut = int(n * split)
    in_sample = run_backtest(strategy_id, params, candles[:cut], **options)
    warm = max(0, cut - WINDOW + 1)
    out = run_backtest(strategy_id, params, candles[warm:], **options)
    # Trades on the warm-up candles belong to the in-sample period: the out-of-sample run starts flat at the cut.
    return {
        "split": split,
        "split_ts": int(candles[cut][0]) if cut < n else None,
        "in_sample": in_sample.metrics,
        "out_of_sample": out.metrics,
    }


def monte_carlo(trades: list[dict], initial_capital: Decimal | float, runs: int = 200, seed: int = 0) -> dict:
    """Reshuffle the order of the round trips' realised P&L ``runs`` times: the distribution of max drawdowns (of the
    realised equity) and of final equity. The final equity is the same in every run (a sum does not depend on the
    order); the drawdown does: the spread says how much of the observed drawdown was luck of the order."""
    profits = np.array([float(t["profit_loss"]) for t in trades if t["side"] == "sell"], dtype=float)
    start = float(initial_capital)
    if len(profits) == 0 or runs <= 0:
        return {"runs": 0, "round_trips": len(profits)}
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((runs, len(profits))), axis=1)
    paths = start + np.cumsum(profits[order], axis=1)
    paths = np.concatenate([np.full((runs, 1), start), paths], axis=1)
    peaks = np.maximum.accumulate(paths, axis=1)
    drawdowns = (paths / peaks - 1).min(axis=1)
    actual = np.concatenate([[start], start + np.cumsum(profits)])
    actual_dd = float((actual / np.maximum.accumulate(actual) - 1).min())
    percentiles = {f"p{q}": round(float(np.percentile(drawdowns, q)), 8) for q in (5, 25, 50, 75, 95)}
    return {
        "runs": runs,
        "round_trips": len(profits),
        "actual_max_drawdown": round(actual_dd, 8),
        "max_drawdown": percentiles,
        "worst_max_drawdown": round(float(drawdowns.min()), 8),
        "final_equity": round(float(paths[0, -1]), 8),
        "histogram": _histogram(drawdowns),
    }


def _histogram(values: np.ndarray, bins: int = 20) -> list[list[float]]:
    counts, edges = np.histogram(values, bins=bins)
    return [[round(float(edges[i]), 8), int(counts[i])] for i in range(len(counts))]
