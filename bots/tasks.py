"""Celery tasks of the bot engine. Beat runs dispatch_ticks every few seconds and sync_open_orders every 15 s.

Without REDIS_URL, Celery runs tasks eagerly in the calling process and bots.scheduler calls the dispatcher from a thread
inside the web process (the in-memory channel layer only works within one process).
"""

import logging

from celery import shared_task
from django.db import close_old_connections, connection

from bots import engine

logger = logging.getLogger(__name__)
GROUP_SIZE = 250


def _fresh_connections():
    """Drop broken or expired connections between tasks (never inside a caller's transaction, e.g. an eager task)."""
    if not connection.in_atomic_block:
        close_old_connections()


@shared_task(name="bots.dispatch_ticks", ignore_result=True)
def dispatch_ticks():
    """Group the due bots by market and send one tick_group task per group (at most GROUP_SIZE bots each)."""
    sent = 0
    for (exchange, symbol, timeframe), bot_ids in engine.due_groups().items():
        for start in range(0, len(bot_ids), GROUP_SIZE):
            tick_group.delay(exchange, symbol, timeframe, bot_ids[start:start + GROUP_SIZE])
            sent += 1
    return sent


@shared_task(name="bots.tick_group", bind=True, acks_late=True, max_retries=3, ignore_result=True)
def tick_group(self, exchange, symbol, timeframe, bot_ids):
    """Tick every bot of one market. Per-bot failures are recorded on the bot; an unexpected failure of the whole
    group is retried with exponential backoff (safe: order placement is idempotent)."""
    _fresh_connections()
    try:
        return engine.tick_group(exchange, symbol, timeframe, bot_ids)
    except Exception as exc:  # noqa: BLE001
        logger.exception("tick group %s %s failed", exchange, symbol)
        raise self.retry(exc=exc, countdown=2 ** self.request.retries)
    finally:
        _fresh_connections()


@shared_task(name="trading.sync_open_orders", ignore_result=True)
def sync_open_orders(limit=500):
    """Poll the exchange for every open order (manual limit orders, live orders) and apply fills and cancellations."""
    from trading.exchanges import get_exchange
    from trading.models import Order, OrderStatus
    from trading.services import sync_order

    synced = 0
    orders = (Order.objects.filter(status=OrderStatus.OPEN, children__isnull=True).select_related("user", "bot")
              .order_by("updated_at")[:limit])
    for order in orders:
        try:
            mode = "paper" if order.is_paper else "live"
            sync_order(order, get_exchange(order.user, order.exchange, mode))
            synced += 1
        except Exception:  # noqa: BLE001 - one order's failure never stops the poller
            logger.warning("could not sync order %s", order.pk, exc_info=True)
    return synced
