"""Increasing delay after repeated failed logins (wrong password or wrong TOTP code) for one account.

After ``LOGIN_LOCKOUT_THRESHOLD`` consecutive failures the account is locked for 30 s, doubling with each further
failure up to one hour. State lives in the cache (Redis in production) so every web process sees it. A successful login
clears it.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from amarktai.errors import RateLimited

BASE_SECONDS = 30
MAX_SECONDS = 3600
WINDOW_SECONDS = 24 * 3600


def _key(email):
    normalized = (email or "").strip().lower()[:254]
    return "lockout:" + hashlib.sha256(normalized.encode()).hexdigest()[:32]


def _threshold():
    return settings.LOGIN_LOCKOUT_THRESHOLD


def check(email):
    """Raise RateLimited while the account is locked."""
    state = cache.get(_key(email))
    if not state:
        return
    remaining = state.get("locked_until", 0) - time.time()
    if remaining > 0:
        raise RateLimited(
            f"Too many failed login attempts. Try again in {int(remaining) + 1} seconds.",
            retry_after=int(remaining) + 1,
        )


def record_failure(email):
    key = _key(email)
    state = cache.get(key) or {"failures": 0, "locked_until": 0}
    state["failures"] += 1
    over = state["failures"] - _threshold()
    if over >= 0:
        state["locked_until"] = time.time() + min(BASE_SECONDS * (2**over), MAX_SECONDS)
    cache.set(key, state, WINDOW_SECONDS)
    return state


def reset(email):
    cache.delete(_key(email))
