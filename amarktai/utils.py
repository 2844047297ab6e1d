"""Small helpers shared by every app."""

import functools
import ipaddress
from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone as dj_timezone


def iso(dt):
    """ISO 8601 in UTC with a trailing Z, or None."""
    if dt is None:
        return None
    if dj_timezone.is_naive(dt):
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_now():
    return iso(datetime.now(UTC))


def money(value, places=8):
    """Decimal -> float for JSON output (the contract uses JSON numbers); None stays None."""
    if value is None:
        return None
    return float(round(Decimal(value), places))


def client_ip(request):
    """The client's address. ``REMOTE_ADDR`` is the peer; only when that peer is one of ``settings.TRUSTED_PROXIES``
    (nginx) is X-Forwarded-For believed, and then the client is the right-most address in it that is not itself a
    trusted proxy (the left part of the header is whatever the client sent, and can be forged)."""
    peer = request.META.get("REMOTE_ADDR", "")
    if not _is_trusted_proxy(peer):
        return peer
    hops = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for hop in reversed(hops):
        if not _is_valid_ip(hop):
            break  # garbage in the chain: stop believing it
        if not _is_trusted_proxy(hop):
            return hop
    return peer


def _is_valid_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _trusted_networks(proxies):
    return tuple(ipaddress.ip_network(item, strict=False) for item in proxies)


def address_in(address, networks):
    """Whether the IP ``address`` (a string, possibly garbage) lies in one of ``networks``. A dual-stack listener
    reports an IPv4 peer as ::ffff:a.b.c.d; it is the same host as a.b.c.d."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def _is_trusted_proxy(address):
    from django.conf import settings

    return address_in(address, _trusted_networks(tuple(settings.TRUSTED_PROXIES)))
