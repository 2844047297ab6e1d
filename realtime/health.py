"""Real checks of the parts the platform depends on. Each returns (ok, detail)."""

import copy
import math
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections


def check_database(timeout=None):
    """The database answers a real query within ``timeout`` seconds (default settings.HEALTH_DB_TIMEOUT_MS).

    ``SELECT 1`` proves nothing: it answers while another session holds a table lock (PostgreSQL; SQLite's exclusive
    lock in its rollback-journal mode, where the embedded default runs in WAL mode and a writer no longer stops
    readers) that makes every real request hang. So the probe reads a real table, the user table every
    authenticated request reads, on a connection of its own with that short timeout as its lock wait (SQLite's busy
    timeout; PostgreSQL's lock_timeout, statement_timeout and connect_timeout), in a thread of its own that the caller
    waits for no longer than the timeout: whatever hangs (a lock, a dead server, a network that drops packets), health
    answers in about the timeout. One probe runs at a time per process; concurrent callers share its answer.
    """
    limit = settings.HEALTH_DB_TIMEOUT_MS / 1000 if timeout is None else timeout
    started = time.perf_counter()
    try:
        _shared_probe(connections[DEFAULT_DB_ALIAS], limit)
    except FutureTimeout:
        return False, {"error": "timeout", "timeout_ms": round(limit * 1000)}
    except Exception as exc:  # noqa: BLE001 - any driver error means "down"
        return False, {"error": exc.__class__.__name__}
    return True, {"latency_ms": round((time.perf_counter() - started) * 1000, 2)}


_probe_lock = threading.Lock()
_probe: Future | None = None


def _shared_probe(source, limit):
    """Run ``_probe_database`` in a thread (or join the one already running) and wait at most ``limit`` seconds.

    A joined probe that started before this call and failed may have met a condition that is over by now (a lock
    released meanwhile): then one fresh probe gets whatever is left of the time limit."""
    if source.vendor == "sqlite" and source.is_in_memory_db():
        # An in-memory database is visible only to its own connection: probe on it, bounded by its own busy timeout.
        return _probe_database(source, limit)
    deadline = time.monotonic() + limit
    future, joined = _start_or_join(source, limit)
    try:
        return future.result(timeout=limit)
    except FutureTimeout:
        raise
    except Exception:
        remaining = deadline - time.monotonic()
        if not joined or remaining <= 0:
            raise
        future, _ = _start_or_join(source, limit)
        return future.result(timeout=remaining)


def _start_or_join(source, limit):
    """The probe in flight (joined=True), or a new one started now (joined=False)."""
    global _probe
    with _probe_lock:
        future = _probe
        if future is not None and not future.done():
            return future, True
        future = _probe = Future()
        threading.Thread(
            target=_run_probe,
            args=(future, source.__class__, copy.deepcopy(source.settings_dict), source.alias, limit),
            name="health-db-probe",
            daemon=True,
        ).start()
        return future, False


def _run_probe(future, wrapper_class, settings_dict, alias, limit):
    if not future.set_running_or_notify_cancel():
        return
    options = settings_dict.setdefault("OPTIONS", {})
    if settings_dict["ENGINE"].endswith("sqlite3"):
        options["timeout"] = limit  # the busy timeout: how long to wait for a lock
    elif settings_dict["ENGINE"].endswith("postgresql"):
        options["connect_timeout"] = max(1, math.ceil(limit))
        options.pop("pool", None)  # one plain connection, not a pool of its own
    wrapper = wrapper_class(settings_dict, alias)
    try:
        _probe_database(wrapper, limit)
    except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
        future.set_exception(exc)
    else:
        future.set_result(True)
    finally:
        try:
            wrapper.close()
        except Exception:  # noqa: BLE001 - the connection is broken anyway
            pass


def _probe_database(wrapper, limit):
    table = wrapper.ops.quote_name(get_user_model()._meta.db_table)
    with wrapper.cursor() as cursor:
        if wrapper.vendor == "postgresql":
            wait = f"{max(1, round(limit * 1000))}ms"
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)", [wait, wait]
            )
        cursor.execute(f"SELECT 1 FROM {table} LIMIT 1")  # a quoted model table name, no input
        cursor.fetchall()


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
