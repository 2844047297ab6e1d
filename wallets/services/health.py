"""GET /api/platforms/health: per catalogue platform, whether the user has keys, whether they are valid, and whether the
exchange answers (latency of a real public call through the adapter).

- not_configured: the user has no keys for the platform (no network call; last_check null).
- down:           the public call failed or the platform's circuit breaker is open.
- degraded:       it answered, but slower than settings.HEALTH_DEGRADED_LATENCY_MS (default 1500), or the stored keys
                  were rejected (keys_valid false).
- operational:    otherwise.
The public check of a platform is shared by all users for HEALTH_CACHE_SECONDS (default 30); each user's answer is
cached as long. Checks run in parallel, each bounded by HEALTH_TIMEOUT_MS (default 3000) and never retried, so the
request takes at most about one timeout.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from amarktai.errors import AmarktaiError
from amarktai.utils import iso
from trading.platforms import PLATFORMS
from wallets.selectors import keys_valid_by_platform, live_credential
from wallets.services.credentials import health_cache_key


def _ttl() -> int:
    return int(settings.HEALTH_CACHE_SECONDS)


def check_platform(platform_id: str) -> dict[str, Any]:
    """{"ok", "latency_ms", "checked_at", "error"} for one public call, cached per platform."""
    key = f"wallets:ping:{platform_id}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    from trading.exchanges import public_exchange

    checked_at = iso(datetime.now(UTC))
    result: dict[str, Any]
    try:
        exchange = public_exchange(platform_id, timeout_ms=int(settings.HEALTH_TIMEOUT_MS), max_retries=0)
        result = {"ok": True, "latency_ms": exchange.ping(), "checked_at": checked_at, "error": None}
    except AmarktaiError as exc:
        result = {"ok": False, "latency_ms": None, "checked_at": checked_at, "error": exc.message}
    except Exception as exc:  # noqa: BLE001 - a health check reports, it never raises
        result = {"ok": False, "latency_ms": None, "checked_at": checked_at, "error": exc.__class__.__name__}
    cache.set(key, result, _ttl())
    return result


def check_own_gateway(platform_id: str, credential: Any) -> dict[str, Any]:
    """A platform the user hosts (a ``host_url`` credential field: OpenAlgo) has no public endpoint: its check is a
    ping of the user's own gateway with the user's newest usable key (``credential``), cached with the user's answer."""
    from trading.exchanges import connect

    checked_at = iso(datetime.now(UTC))
    if credential is None:
        return {"ok": False, "latency_ms": None, "checked_at": checked_at, "error": "no usable key"}
    try:
        exchange = connect(platform_id, credential, timeout_ms=int(settings.HEALTH_TIMEOUT_MS), max_retries=0)
        return {"ok": True, "latency_ms": exchange.ping(), "checked_at": checked_at, "error": None}
    except AmarktaiError as exc:
        return {"ok": False, "latency_ms": None, "checked_at": checked_at, "error": exc.message}
    except Exception as exc:  # noqa: BLE001 - a health check reports, it never raises
        return {"ok": False, "latency_ms": None, "checked_at": checked_at, "error": exc.__class__.__name__}


def _keys_valid(values: list[bool | None]) -> bool | None:
    """True if any stored key works, False if all were rejected, else None (not checked yet)."""
    if any(v is True for v in values):
        return True
    if values and all(v is False for v in values):
        return False
    return None


def platforms_health(user: Any) -> dict[str, Any]:
    """{"platforms": {platform id: {"status", "has_keys", "keys_valid", "last_check"[, "api_latency_ms"]}}}."""
    cached = cache.get(health_cache_key(user.pk))
    if cached is not None:
        return cached
    creds = keys_valid_by_platform(user)
    configured = [pid for pid in PLATFORMS if pid in creds]
    checks: dict[str, dict[str, Any]] = {}
    if configured:
        with ThreadPoolExecutor(max_workers=len(configured)) as pool:
            own = {pid: live_credential(user, pid) for pid in configured if PLATFORMS[pid].credential_field("host_url")}

            def check_one(pid: str) -> dict[str, Any]:
                return check_own_gateway(pid, own[pid]) if pid in own else check_platform(pid)

            checks = dict(zip(configured, pool.map(check_one, configured), strict=True))
    degraded_ms = int(settings.HEALTH_DEGRADED_LATENCY_MS)
    platforms: dict[str, dict[str, Any]] = {}
    for pid in PLATFORMS:
        if pid not in creds:
            platforms[pid] = {"status": "not_configured", "has_keys": False, "keys_valid": None, "last_check": None}
            continue
        check, keys_valid = checks[pid], _keys_valid(creds[pid])
        if not check["ok"]:
            status = "down"
        elif keys_valid is False or check["latency_ms"] > degraded_ms:
            status = "degraded"
        else:
            status = "operational"
        platforms[pid] = {
            "status": status,
            "has_keys": True,
            "keys_valid": keys_valid,
            "last_check": check["checked_at"],
            "api_latency_ms": check["latency_ms"],
        }
    body = {"platforms": platforms}
    cache.set(health_cache_key(user.pk), body, _ttl())
    return body
