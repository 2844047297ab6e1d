"""Small helpers shared by every app."""

from datetime import datetime, timezone
from decimal import Decimal

from django.utils import timezone as dj_timezone


def iso(dt):
    """ISO 8601 in UTC with a trailing Z, or None."""
    if dt is None:
        return None
    if dj_timezone.is_naive(dt):
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def iso_now():
    return iso(datetime.now(timezone.utc))


def money(value, places=8):
    """Decimal -> float for JSON output (the contract uses JSON numbers); None stays None."""
    if value is None:
        return None
    return float(round(Decimal(value), places))


def client_ip(request):
    """Client address; honours X-Forwarded-For only from a trusted proxy count (nginx in front)."""
    from django.conf import settings

    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if forwarded and hops:
        parts = [p.strip() for p in forwarded.split(",") if p.strip()]
        if len(parts) >= hops:
            return parts[-hops]
    return request.META.get("REMOTE_ADDR", "")
