"""Sign-ins from new devices. A device is a SHA-256 of the browser family, the OS family and the client's network
(IPv4 /24, IPv6 /48): a new browser or a new place is new, a browser update or a new address from the same ISP pool
usually is not. The first device an account is seen on is remembered quietly; each later new one publishes an
``alert`` with ``"kind": "new_device"`` (the listener turns it into a new_device notification)."""

import hashlib
import ipaddress
import logging
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from amarktai.utils import client_ip
from notifications.models import KnownDevice
from realtime import events

logger = logging.getLogger(__name__)
MAX_DEVICES = 50

_BROWSERS = [
    ("Edge", r"Edg(e|A|iOS)?/"),
    ("Opera", r"OPR/|Opera"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Chrome", r"Chrome/|CriOS/|Chromium/"),
    ("Safari", r"Safari/"),
    ("curl", r"^curl/"),
    ("Python", r"python-|httpx|aiohttp"),
]
_SYSTEMS = [
    ("Android", r"Android"),
    ("iOS", r"iPhone|iPad|iPod"),
    ("Windows", r"Windows"),
    ("macOS", r"Macintosh|Mac OS X"),
    ("Linux", r"Linux|X11"),
]


def _family(user_agent: str, table: list[tuple[str, str]]) -> str:
    return next((name for name, pattern in table if re.search(pattern, user_agent)), "Other")


def network_of(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def describe(request: Any) -> tuple[str, str]:
    """(fingerprint, label) of the request's device."""
    user_agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    address = client_ip(request) if request is not None else ""
    browser, system, network = _family(user_agent, _BROWSERS), _family(user_agent, _SYSTEMS), network_of(address)
    fingerprint = hashlib.sha256(f"{browser}|{system}|{network}".encode()).hexdigest()
    return fingerprint, f"{browser} on {system} from {network}"


def note_sign_in(user: Any, request: Any) -> bool:
    """Remember the device; True (and an alert published) when the account had signed in before, never from it."""
    fingerprint, label = describe(request)
    now = timezone.now()
    if KnownDevice.objects.owned_by(user).filter(fingerprint=fingerprint).update(last_seen_at=now):
        return False
    first = not KnownDevice.objects.owned_by(user).exists()
    try:
        with transaction.atomic():
            KnownDevice.objects.create(user=user, fingerprint=fingerprint, label=label, first_seen_at=now)
    except IntegrityError:
        return False  # a concurrent sign-in from the same device recorded it
    stale = KnownDevice.objects.owned_by(user).order_by("-last_seen_at").values_list("pk", flat=True)[MAX_DEVICES:]
    KnownDevice.objects.filter(pk__in=list(stale)).delete()  # remember the most recently used ones only
    if first:
        return False
    events.publish(
        user.pk,
        events.ALERT,
        {
            "level": "warning",
            "kind": "new_device",
            "message": f"New sign-in to your account: {label} at {now:%Y-%m-%d %H:%M} UTC. If it was not you, "
            "change your password and log out everywhere.",
            "device": label,
        },
    )
    return True


def on_signed_in(sender: Any, user: Any, request: Any = None, **kwargs: Any) -> None:
    note_sign_in(user, request)
