"""Celery tasks of the bot engine. Beat runs dispatch_ticks every few seconds
(trading.tasks.sync_open_orders has its own schedule).

Without REDIS_URL, Celery runs tasks eagerly in the calling process and bots.scheduler calls the dispatcher from a
thread inside the web process (the in-memory channel layer only works within one process).
"""

import logging

from celery import shared_task
from django.core.cache import cache
from django.db import close_old_connections, connection
from django.utils import timezone

from bots import engine, scheduling, services, supertrend_exit
from realtime.metrics import BOT_DISPATCH_LAG
from trading import system

logger = logging.getLogger(__name__)
GROUP_SIZE = 250
# Each dispatcher round leaves its time (epoch seconds) here; manage.py doctor reads it to tell that beat is alive.
HEARTBEAT_KEY = "beat:last_dispatch"


def _fresh_connections():
    """Drop broken or expired connections between tasks (never inside a caller's transaction, e.g. an eager task)."""
    if not connection.in_atomic_block:
        close_old_connections()


@shared_task(name="bots.dispatch_ticks", ignore_result=True)
def dispatch_ticks() -> int:
    """One dispatcher round: publish the lag, claim (lease) the most overdue bots, at most BOT_DISPATCH_LIMIT
    (bots.scheduling), and send one tick_group task per market group (at most GROUP_SIZE bots each). Sends nothing
    while the system is stopped (trading.system)."""
    now = timezone.now()
    cache.set(HEARTBEAT_KEY, now.timestamp(), None)
    if system.trading_halted():
        return 0  # an admin stopped the system: no tick is sent (trading.system)
    BOT_DISPATCH_LAG.set(scheduling.dispatch_lag_seconds(now))
    sent = 0
    for (exchange, symbol, timeframe), bot_ids in scheduling.claim_due_groups(now).items():
        for start in range(0, len(bot_ids), GROUP_SIZE):
            tick_group.delay(exchange, symbol, timeframe, bot_ids[start : start + GROUP_SIZE])
            sent += 1
    return sent


@shared_task(name="bots.tick_group", bind=True, acks_late=True, max_retries=3, ignore_result=True)
def tick_group(self, exchange, symbol, timeframe, bot_ids):
    """Tick every bot of one market. Per-bot failures are recorded on the bot; an unexpected failure of the whole
    group is retried with exponential backoff (safe: order placement is idempotent)."""
    _fresh_connections()
    try:
        return engine.tick_group(exchange, symbol, timeframe, bot_ids)
    except Exception as exc:
        logger.exception("tick group %s %s failed", exchange, symbol)
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    finally:
        _fresh_connections()


@shared_task(name="bots.prune_signals", ignore_result=True)
def prune_signals() -> int:
    """Hourly: delete strategy signals older than SIGNAL_RETENTION_DAYS (bots.services.prune_signals)."""
    return services.prune_signals()


@shared_task(name="bots.check_supertrend_exits", ignore_result=True)
def check_supertrend_exits() -> int:
    """Every SUPERTREND_EXIT_SECONDS: close the positions whose Supertrend exit flipped down on a new candle
    (bots.supertrend_exit.check_supertrend_exits)."""
    return supertrend_exit.check_supertrend_exits()
