"""Backtests: start (with a per-user concurrency cap and daily quota), run (as a Celery task on the ``research`` queue,
or on a background thread in the embedded default: never in the web request nor in the bot ticks' queue), progress
(``backtest_progress`` events, every 5 %), cancel (a cooperative flag the runner checks between chunks of candles)."""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from accounts.models import User
from amarktai.errors import RateLimited, ValidationFailed
from bots import risk
from bots.services import _validate_params
from realtime import events
from research import history
from research.backtest import Canceled, run_backtest
from research.models import ACTIVE_STATUSES, Backtest, BacktestStatus
from research.robustness import monte_carlo, walk_forward
from research.selectors import access_backtest
from trading.exchanges import paper_source
from trading.fillmodel import fee_rates

logger = logging.getLogger(__name__)

# Tests set this to run a backtest at once in the calling thread.
INLINE = False
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def create_backtest(user: Any, data: dict[str, Any]) -> Backtest:
    """A queued backtest from validated input (research.serializers.BacktestCreateSerializer), dispatched once the
    transaction commits. RateLimited (429) over the user's concurrency cap or daily quota."""
    params = _validate_params(data["strategy"], data.get("params"))
    end = data.get("end") or timezone.now()
    start = data.get("start") or end - timedelta(days=data.get("days") or 30)
    step = history.step_ms(data["timeframe"]) / 1000
    if end <= start:
        raise ValidationFailed("end must be after start", details={"end": ["must be after start"]})
    if (end - start).total_seconds() / step > settings.BACKTEST_MAX_CANDLES:
        raise ValidationFailed(
            f"the range holds more than {settings.BACKTEST_MAX_CANDLES} {data['timeframe']} candles",
            details={"start": ["range too long for this timeframe"]},
        )
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one start at a time per user: the caps hold
        mine = Backtest.objects.owned_by(user)
        # A run its owner canceled no longer counts, even before its worker notices (or if its worker died with it).
        running = mine.filter(status__in=ACTIVE_STATUSES, cancel_requested=False).count()
        if running >= settings.BACKTEST_MAX_CONCURRENT:
            raise RateLimited(
                f"{running} backtests are already running (at most {settings.BACKTEST_MAX_CONCURRENT} at once): "
                "wait for one to finish or cancel it",
                details={"limit": ["concurrent backtests"]},
                retry_after=30,
            )
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        today = mine.filter(created_at__gte=midnight).count()
        if today >= settings.BACKTEST_DAILY_QUOTA:
            raise RateLimited(
                f"daily backtest quota of {settings.BACKTEST_DAILY_QUOTA} reached; it resets at 00:00 UTC",
                details={"limit": ["daily backtests"]},
                retry_after=int((midnight + timedelta(days=1) - datetime.now(UTC)).total_seconds()) + 1,
            )
        backtest = Backtest.objects.create(
            user=user,
            strategy=data["strategy"],
            params=params,
            exchange=data["exchange"],
            symbol=data["symbol"].upper(),
            timeframe=data["timeframe"],
            start=start,
            end=end,
            initial_capital=data["initial_capital"],
            fee_rate=data["fee_rate"] if data.get("fee_rate") is not None else fee_rates(data["exchange"])[1],
            slippage=data.get("slippage"),
            risk_mode=data["risk_mode"],
            walk_forward=data.get("walk_forward", False),
            monte_carlo=data.get("monte_carlo", 0),
            source=paper_source(),
        )
        _progress_event(backtest)
        pk = str(backtest.pk)
        transaction.on_commit(lambda: dispatch(pk))
    return backtest


def dispatch(backtest_id: str) -> None:
    """Run a backtest off the caller's thread: a Celery worker of the ``research`` queue (production), or the research
    background thread (embedded: tasks in process), so neither the request nor a bot tick waits for it."""
    if INLINE:
        run(backtest_id)
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        global _pool
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amarktai-research")
        _pool.submit(_run_closing, backtest_id)
        return
    current_app.send_task("research.run_backtest", args=[backtest_id], queue="research")


def _run_closing(backtest_id: str) -> None:
    try:
        run(backtest_id)
    except Exception:
        logger.exception("backtest %s failed", backtest_id)
    finally:
        close_old_connections()


def cancel_backtest(user: Any, backtest_id: Any) -> Backtest:
    """Cancel a queued or running backtest (a finished one is left as it is). A running one stops at its next chunk."""
    with transaction.atomic():
        backtest = access_backtest(user, backtest_id)
        backtest = Backtest.objects.select_for_update().get(pk=backtest.pk)
        if backtest.status == BacktestStatus.QUEUED:
            backtest.status = BacktestStatus.CANCELED
            backtest.finished_at = timezone.now()
            backtest.cancel_requested = True
            backtest.save(update_fields=["status", "finished_at", "cancel_requested"])
            _progress_event(backtest)
        elif backtest.status == BacktestStatus.RUNNING:
            backtest.cancel_requested = True
            backtest.save(update_fields=["cancel_requested"])
    return backtest


def _progress_event(backtest: Backtest) -> None:
    events.publish(
        backtest.user_id,
        events.BACKTEST_PROGRESS,
        {
            "backtest_id": str(backtest.pk),
            "status": backtest.status,
            "progress": round(backtest.progress, 4),
            "error": backtest.error,
        },
    )


def _set(backtest: Backtest, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(backtest, name, value)
    Backtest.objects.filter(pk=backtest.pk).update(**fields)


def run(backtest_id: str) -> str:
    """Run one queued backtest to its end (done, failed or canceled). Returns the final status."""
    with transaction.atomic():
        backtest = Backtest.objects.select_for_update().filter(pk=backtest_id).first()
        if backtest is None or backtest.status != BacktestStatus.QUEUED:
            return backtest.status if backtest else "missing"
        _set(backtest, status=BacktestStatus.RUNNING, started_at=timezone.now())
    _progress_event(backtest)
    reported = [0.0]

    def report(fraction: float) -> None:
        if fraction - reported[0] >= 0.05 or (fraction >= 1.0 and reported[0] < 1.0):
            reported[0] = fraction
            _set(backtest, progress=fraction)
            _progress_event(backtest)

    def should_cancel() -> bool:
        return Backtest.objects.filter(pk=backtest.pk, cancel_requested=True).exists()

    try:
        candles = history.load(
            backtest.source,
            backtest.exchange,
            backtest.symbol,
            backtest.timeframe,
            int(backtest.start.timestamp() * 1000),
            int(backtest.end.timestamp() * 1000),
            progress=lambda f: report(f * 0.3),  # fetching history: the first 30 %
        )
        if should_cancel():
            raise Canceled()
        options: dict[str, Any] = {
            "initial_capital": backtest.initial_capital,
            "fee_rate": backtest.fee_rate,
            "slippage": backtest.slippage,
            "risk_mode": backtest.risk_mode,
            "exchange": backtest.exchange,
            "symbol": backtest.symbol,
            "max_position_fraction": risk.max_position_fraction(backtest.user_id),
        }
        result = run_backtest(
            backtest.strategy,
            backtest.params,
            candles,
            progress=lambda f: report(0.3 + f * 0.65),
            should_cancel=should_cancel,
            chunk=max(100, min(5000, len(candles) // 40)),  # progress and the cancel check: ~40 times a run
            **options,
        )
        body = result.as_dict()
        if backtest.walk_forward and len(candles) > 10:
            body["walk_forward"] = walk_forward(backtest.strategy, backtest.params, candles, **options)
        if backtest.monte_carlo:
            body["monte_carlo"] = monte_carlo(result.trades, backtest.initial_capital, runs=backtest.monte_carlo)
        body["trades"] = body["trades"][-2000:]  # the newest 2,000 trades are kept; metrics count them all
    except Canceled:
        _set(backtest, status=BacktestStatus.CANCELED, finished_at=timezone.now())
        _progress_event(backtest)
        return backtest.status
    except Exception as exc:
        logger.warning("backtest %s failed: %s", backtest_id, exc, exc_info=True)
        message = getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}"
        _set(backtest, status=BacktestStatus.FAILED, error=str(message)[:1000], finished_at=timezone.now())
        _progress_event(backtest)
        return backtest.status
    _set(
        backtest,
        status=BacktestStatus.DONE,
        progress=1.0,
        result=body,
        metrics=body["metrics"],
        finished_at=timezone.now(),
    )
    _progress_event(backtest)
    return backtest.status
