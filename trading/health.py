"""The exchanges' part of /api/health/components (registered with realtime.providers by TradingConfig.ready)."""

from django.conf import settings
from django.utils.module_loading import import_string

from trading.platforms import PLATFORMS


def check_exchanges():
    """The exchange catalogue, cheaply: no network calls here (live checks are /api/platforms/health).

    If settings.EXCHANGE_STATE_PROVIDER names a callable ``(platform_id) -> str`` (e.g. a circuit breaker's state:
    "closed", "open", "half_open"), its answer is reported as ``circuit``; an "open" circuit marks the exchange down.
    """
    provider = None
    dotted = settings.EXCHANGE_STATE_PROVIDER
    if dotted:
        try:
            provider = import_string(dotted)
        except ImportError:
            provider = None
    report, ok = {}, True
    for platform in PLATFORMS.values():
        entry = {"enabled": platform.enabled, "status": "enabled" if platform.enabled else "disabled"}
        if provider is not None:
            try:
                entry["circuit"] = str(provider(platform.id))
            except Exception as exc:  # noqa: BLE001
                entry["circuit"] = "unknown"
                entry["error"] = exc.__class__.__name__
            if entry["circuit"] == "open":
                entry["status"] = "down"
                ok = False
        report[platform.id] = entry
    return ok, {"platforms": report}


def check_market_data():
    """The market-data service (trading.marketdata) as it last reported itself (the cache key it refreshes every
    DEMAND_REFRESH seconds): "off" (MARKET_DATA_SERVICE=0), "not_seen" (it never reported: not started yet, or this
    installation does not run it), "ok", or "down" when its report is older than MARKET_DATA_STALE_SECONDS or a feed
    with markets has sent nothing for that long (live bots on those markets then fail their ticks). No network calls."""
    import time

    from django.core.cache import cache

    from trading import marketcache
    from trading.marketdata import STATUS_KEY

    if not settings.MARKET_DATA_SERVICE:
        return True, {"status": "off"}
    report = cache.get(STATUS_KEY)
    if not report:
        return True, {"status": "not_seen"}
    limit = marketcache.stale_seconds()
    age = round(time.time() - float(report["at"]), 1)
    keys = ("exchange", "source", "kind", "connections", "reconnects", "last_message_age", "running_seconds")
    feeds = [{key: feed.get(key) for key in keys} | {"markets": len(feed["markets"])} for feed in report["feeds"]]
    # A feed with markets is stalled when its last message (or, before the first, its start) is older than the limit.
    stalled = [
        f
        for f in feeds
        if f["markets"]
        and (f["last_message_age"] if f["last_message_age"] is not None else f["running_seconds"] or 0) > limit
    ]
    ok = age <= limit and not stalled
    return ok, {"status": "ok" if ok else "down", "reported_seconds_ago": age, "feeds": feeds}
