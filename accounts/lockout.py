"""Failed-login defences that slow an attacker without locking the account's owner out.

Two counters, both in the cache (Redis in production, so every web process sees them), both over a fixed window that
starts at the first failure and is never extended by later ones (a trickle of failures cannot keep a window open):

- per account *and* client address: after ``LOGIN_LOCKOUT_THRESHOLD`` failures that address is locked out of that
  account for 30 s, doubling with each further failure up to an hour; the window is a day. Only the address that
  failed is locked, so the owner signing in from elsewhere never notices. A successful login clears it.
- per account, from every address: after ``LOGIN_LOCKOUT_ACCOUNT_CEILING`` failures within
  ``LOGIN_LOCKOUT_ACCOUNT_WINDOW`` seconds the account is under attack (many addresses, each under the threshold). That
  locks nobody out: addresses the account has signed in from before carry on as usual (each still under its own
  lock); a new address must present a valid two-factor code with the password until the window ends.

Whatever refuses a password check, a correct password with a currently valid two-factor code always passes
(accounts.services.login): other people's failures never stand between the owner and their account once 2FA is on.

Addresses come from ``amarktai.utils.client_ip`` (behind the bundled nginx: the real client, not the proxy). An IPv6
client counts as its /64, the block one subscriber usually holds, so it cannot step through 2**64 addresses.
"""

import hashlib
import ipaddress
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from amarktai.errors import RateLimited
from amarktai.utils import client_ip

BASE_SECONDS = 30
MAX_SECONDS = 3600
PAIR_WINDOW_SECONDS = 24 * 3600
# Addresses an account signed in from: remembered for 30 days, the 20 most recent.
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600
KNOWN_ADDRESS_LIMIT = 20


def address_of(request: Any) -> str:
    """The client's address as the lockout and the login throttles count it: IPv4 as is, IPv6 as its /64."""
    raw = client_ip(request) if request is not None else ""
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _email(email: str) -> str:
    return (email or "").strip().lower()[:254]


def _pair_key(email: str, address: str) -> str:
    return "lockout:pair:" + _digest(_email(email), address)


def _account_key(email: str) -> str:
    return "lockout:account:" + _digest(_email(email))


def _known_key(email: str) -> str:
    return "lockout:known:" + _digest(_email(email))


def _count(key: str, window: int) -> int:
    """One more failure in ``key``'s fixed window (it starts at the first failure; later ones never extend it)."""
    now = time.time()
    end = cache.get(key + ":end")
    if end is None or end <= now:
        cache.set(key + ":end", now + window, window + 1)
        cache.set(key, 0, window + 1)
    try:
        return cache.incr(key)
    except ValueError:  # evicted between the two calls
        cache.set(key, 1, window + 1)
        return 1


def _in_words(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


def refusal(email: str, address: str) -> RateLimited | None:
    """The error that refuses a password check for this account from this address, or None when it may go ahead.

    The error says ``two_factor_required`` (the portal then shows its code field): a correct password together with a
    valid two-factor code is let through even then."""
    now = time.time()
    pair, account = _pair_key(email, address), _account_key(email)
    found = cache.get_many([pair + ":until", account, account + ":end", _known_key(email)])
    until = found.get(pair + ":until") or 0
    if until > now:
        wait = math.ceil(until - now)
        return RateLimited(
            f"Too many failed sign-ins from your address. Try again in {_in_words(wait)}, or sign in with your "
            "two-factor code.",
            retry_after=wait,
            details={"two_factor_required": True},
        )
    end = found.get(account + ":end") or 0
    attacked = end > now and (found.get(account) or 0) >= settings.LOGIN_LOCKOUT_ACCOUNT_CEILING
    known = found.get(_known_key(email)) or {}
    if attacked and known.get(address, 0) <= now - KNOWN_ADDRESS_SECONDS:
        wait = math.ceil(end - now)
        return RateLimited(
            "This account has had many failed sign-ins. From an address it has not used before, sign in with your "
            f"two-factor code, or try again in {_in_words(wait)}.",
            retry_after=wait,
            details={"two_factor_required": True},
        )
    return None


def record_failure(email: str, address: str) -> bool:
    """Count a failed login; True when it is the one that puts the account under attack (once per window)."""
    pair = _pair_key(email, address)
    over = _count(pair, PAIR_WINDOW_SECONDS) - settings.LOGIN_LOCKOUT_THRESHOLD
    if over >= 0:
        lock = min(BASE_SECONDS * 2 ** min(over, 16), MAX_SECONDS)
        cache.set(pair + ":until", time.time() + lock, lock + 1)
    return _count(_account_key(email), settings.LOGIN_LOCKOUT_ACCOUNT_WINDOW) == settings.LOGIN_LOCKOUT_ACCOUNT_CEILING


def record_success(email: str, address: str) -> None:
    """Clear this address's failures on the account and remember the address as one the owner uses. The account-wide
    count stays: one successful login does not end an attack that is still going on."""
    pair = _pair_key(email, address)
    cache.delete_many([pair, pair + ":end", pair + ":until"])
    now = time.time()
    known = cache.get(_known_key(email)) or {}
    known[address] = now
    recent = sorted(known.items(), key=lambda item: item[1], reverse=True)[:KNOWN_ADDRESS_LIMIT]
    cache.set(_known_key(email), {a: t for a, t in recent if t > now - KNOWN_ADDRESS_SECONDS}, KNOWN_ADDRESS_SECONDS)
