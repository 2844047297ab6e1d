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
