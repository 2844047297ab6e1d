"""Celery tasks of the trading app. Beat runs sync_open_orders every ORDER_POLL_SECONDS (the embedded scheduler does
without Redis): it syncs the open paper orders and sends the order-status poller's batches of accounts
(trading.poller) as poll_order_batch tasks."""

import logging

from celery import shared_task

from trading import poller, services

logger = logging.getLogger(__name__)


@shared_task(name="trading.sync_open_orders", ignore_result=True)
def sync_open_orders(limit: int = 500) -> int:
    """Sync the open paper orders (no network) and send one poll_order_batch task per batch of accounts holding open
    live orders. Returns the paper orders synced plus the batches sent."""
    synced = services.sync_open_orders(limit)
    batches = poller.plan_batches()
    for batch in batches:
        poll_order_batch.delay(batch)
    return synced + len(batches)


@shared_task(name="trading.poll_order_batch", ignore_result=True)
def poll_order_batch(account_keys: list[str]) -> int:
    """Poll the open live orders of a batch of accounts (trading.poller.poll_batch); a failing account backs off."""
    return poller.poll_batch(account_keys)
