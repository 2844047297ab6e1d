"""Celery tasks of the trading app. Beat runs sync_open_orders every 15 s
(the embedded scheduler does without Redis)."""

import logging

from celery import shared_task

from trading import services

logger = logging.getLogger(__name__)


@shared_task(name="trading.sync_open_orders", ignore_result=True)
def sync_open_orders(limit: int = 500) -> int:
    """Poll the exchange for every open order (manual limit orders, live orders) and apply fills and cancellations."""
    return services.sync_open_orders(limit)
