"""Response shapes of /api/backtests."""

from typing import Any

from amarktai.utils import iso, money
from research.models import Backtest


def backtest_payload(backtest: Backtest, with_result: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(backtest.pk),
        "strategy": backtest.strategy,
        "params": backtest.params,
        "exchange": backtest.exchange,
        "symbol": backtest.symbol,
        "timeframe": backtest.timeframe,
        "start": iso(backtest.start),
        "end": iso(backtest.end),
        "initial_capital": money(backtest.initial_capital),
        "fee_rate": float(backtest.fee_rate),
        "slippage": float(backtest.slippage) if backtest.slippage is not None else None,
        "slippage_model": "fixed" if backtest.slippage is not None else "order_book",
        "risk_mode": backtest.risk_mode,
        "walk_forward": backtest.walk_forward,
        "monte_carlo": backtest.monte_carlo,
        "source": backtest.source,
        "status": backtest.status,
        "progress": round(backtest.progress, 4),
        "cancel_requested": backtest.cancel_requested,
        "error": backtest.error,
        "created_at": iso(backtest.created_at),
        "started_at": iso(backtest.started_at) if backtest.started_at else None,
        "finished_at": iso(backtest.finished_at) if backtest.finished_at else None,
        "metrics": backtest.metrics,
    }
    if with_result:
        body["result"] = backtest.result
    return body
