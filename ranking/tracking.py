"""Optional experiment tracking with Weights & Biases (the ``wandb`` package, requirements-wandb.txt).

Active only when WANDB_API_KEY is set or WANDB_MODE is "offline" (settings.WANDB_*), and the package is installed;
otherwise every function here does nothing. ``wandb`` is imported lazily, so the platform never needs it. Metric names
are AmpyFin's: ``<strategy>/total_trades``, ``/success_rate``, ``/total_return``, ``/sharpe_ratio`` (plus
``/max_drawdown``). A tracking failure is logged and never fails the run it describes.
"""

import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

METRICS = ("total_trades", "success_rate", "total_return", "sharpe_ratio", "max_drawdown")


def enabled() -> bool:
    return bool(settings.WANDB_API_KEY) or settings.WANDB_MODE == "offline"


def strategy_metrics(strategy: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """{"<strategy>/<metric>": value} for the metrics W&B receives."""
    return {f"{strategy}/{name}": metrics[name] for name in METRICS if name in metrics}


def log_run(kind: str, name: str, config: dict[str, Any], rows: list[tuple[str, dict[str, Any]]]) -> str | None:
    """Log one run (``kind``: "backtest", "optimization", "ranking") with one wandb.log() per (strategy, metrics) row.
    Returns the W&B run id, or None when tracking is off or failed."""
    if not enabled():
        return None
    try:
        import wandb
    except ImportError:
        logger.warning(
            "WANDB_API_KEY/WANDB_MODE is set but the wandb package is not installed (requirements-wandb.txt)"
        )
        return None
    try:
        init: dict[str, Any] = {
            "project": settings.WANDB_PROJECT,
            "name": name,
            "job_type": kind,
            "config": config,
            "reinit": True,
        }
        if settings.WANDB_MODE:
            init["mode"] = settings.WANDB_MODE
        if settings.WANDB_DIR:
            init["dir"] = settings.WANDB_DIR
        run = wandb.init(**init)
        try:
            for strategy, metrics in rows:
                run.log(strategy_metrics(strategy, metrics))
            return str(run.id)
        finally:
            run.finish()
    except Exception:
        logger.warning("logging the %s run %s to Weights & Biases failed", kind, name, exc_info=True)
        return None
