"""Celery tasks of the market app. Beat runs check_price_alerts every PRICE_ALERT_SECONDS, the market scan every
MARKET_SCAN_SECONDS and the reference indices every MARKET_INDEX_SECONDS (the embedded scheduler, bots.scheduler, does
without Redis)."""

from celery import shared_task

from market import services


@shared_task(name="market.check_price_alerts", ignore_result=True)
def check_price_alerts() -> int:
    """Fire the watch lists' price alerts whose level the market reached (market.services.check_price_alerts)."""
    return services.check_price_alerts()


@shared_task(name="market.scan", ignore_result=True)
def scan_markets() -> int:
    """Run the market scan and cache it (market.scan.run_scan); returns how many opportunities it found."""
    from market import scan

    return len(scan.run_scan()["opportunities"])


@shared_task(name="market.refresh_indices", ignore_result=True)
def refresh_indices() -> int:
    """Recompute the reference indices and send them as index_update (market.indices.refresh)."""
    from market import indices

    return len(indices.refresh())
