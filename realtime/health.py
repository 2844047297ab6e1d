"""Real checks of the parts the platform depends on. Each returns (ok, detail)."""

import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection


def check_database():
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any driver error means "down"
        return False, {"error": exc.__class__.__name__}
    return True, {"latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def _layer_round_trip(layer, timeout):
    import asyncio

    channel = await layer.new_channel("health.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout)
    return message.get("token") == token


def check_channel_layer(timeout=2.0):
    layer = get_channel_layer()
    if layer is None:
        return False, {"error": "no channel layer configured"}
    started = time.perf_counter()
    try:
        ok = async_to_sync(_layer_round_trip)(layer, timeout)
    except Exception as exc:  # noqa: BLE001
        return False, {"error": exc.__class__.__name__, "backend": layer.__class__.__name__}
    return ok, {"backend": layer.__class__.__name__, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_cache():
    key = f"health:{uuid.uuid4().hex}"
    started = time.perf_counter()
    try:
        cache.set(key, "1", 5)
        ok = cache.get(key) == "1"
        cache.delete(key)
    except Exception as exc:  # noqa: BLE001
        return False, {"error": exc.__class__.__name__}
    return ok, {"backend": cache.__class__.__name__, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_celery(timeout=1.0):
    """Celery workers seen. Eager mode (no broker): "embedded", tasks run in the calling process.

    With a broker, ``inspect().ping()`` with a short timeout; the answer is cached for CELERY_HEALTH_CACHE_SECONDS so
    a busy health endpoint never floods the broker.
    """
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        return True, {"mode": "embedded", "workers": []}
    key = "health:celery"
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        from amarktai.celery import app

        replies = app.control.inspect(timeout=timeout).ping() or {}
        result = (bool(replies), {"mode": "broker", "workers": sorted(replies)})
    except Exception as exc:  # noqa: BLE001 - broker down
        result = (False, {"mode": "broker", "workers": [], "error": exc.__class__.__name__})
    try:
        cache.set(key, result, settings.CELERY_HEALTH_CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        pass
    return result
