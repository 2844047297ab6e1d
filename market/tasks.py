"""Celery tasks of the market app. Beat runs check_price_alerts every PRICE_ALERT_SECONDS (the embedded scheduler,
bots.scheduler, does without Redis)."""

from celery import shared_task

from market import services


@shared_task(name="market.check_price_alerts", ignore_result=True)
def check_price_alerts() -> int:
    """Fire the watch lists' price alerts whose level the market reached (market.services.check_price_alerts)."""
    return services.check_price_alerts()
