"""JSON shapes of the ranking app's rows (str ids, floats, ISO timestamps)."""

from typing import Any

from amarktai.utils import iso


def optimization_payload(opt: Any) -> dict:
    return {
        "id": str(opt.id),
        "strategy": opt.strategy,
        "exchange": opt.exchange,
        "symbol": opt.symbol,
        "timeframe": opt.timeframe,
        "method": opt.method,
        "space": opt.space,
        "trials": opt.trials,
        "top_n": opt.top_n,
        "candles": opt.candles,
        "in_sample_ratio": float(opt.in_sample_ratio),
        "risk_mode": opt.risk_mode,
        "initial_capital": float(opt.initial_capital),
        "status": opt.status,
        "progress": opt.progress,
        "evaluated": opt.evaluated,
        "results": opt.results,
        "ranges": opt.ranges,
        "error": opt.error,
        "created_at": iso(opt.created_at),
        "finished_at": iso(opt.finished_at) if opt.finished_at else None,
    }


def model_name(model: Any) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted(model.params.items()))
    return f"{model.strategy}({params})"


def model_payload(model: Any, rank: int = 0) -> dict:
    return {
        "id": str(model.id),
        "rank": rank,
        "name": model_name(model),
        "strategy": model.strategy,
        "params": model.params,
        "exchange": model.exchange,
        "symbol": model.symbol,
        "timeframe": model.timeframe,
        "total_trades": model.total_trades,
        "success_rate": model.success_rate,
        "total_return": model.total_return,
        "sharpe_ratio": model.sharpe_ratio,
        "max_drawdown": model.max_drawdown,
        "score": model.score,
        "window_candles": model.window_candles,
        "last_trained": iso(model.trained_at),
    }


def run_payload(run: Any, user: Any) -> dict:
    """A ranking run; who asked for it is not shown to others (only ``mine``)."""
    return {
        "id": str(run.id),
        "status": run.status,
        "progress": run.progress,
        "markets": run.markets,
        "scored": run.scored,
        "error": run.error,
        "mine": run.requested_by_id is not None and run.requested_by_id == user.pk,
        "periodic": run.requested_by_id is None,
        "created_at": iso(run.created_at),
        "finished_at": iso(run.finished_at) if run.finished_at else None,
    }
