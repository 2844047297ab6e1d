"""GET /api/health, GET /api/health/components, /metrics and the request-metrics middleware."""

import time

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.helpers import assert_error
from trading.platforms import PLATFORMS

BROKEN_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_health_is_public_and_ok(api_client):
    r = api_client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"status", "components", "timestamp"} and body["status"] == "ok"
    assert body["components"] == {"database": "ok", "cache": "ok"} and body["timestamp"].endswith("Z")


@pytest.mark.django_db
def test_health_degraded_when_cache_is_down(api_client):
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": BROKEN_REDIS}}
    ):
        r = api_client.get("/api/health")
    # Requests are still served without the cache: degraded, but no reason to take the instance out of rotation.
    assert r.status_code == 200
    assert r.json()["status"] == "degraded" and r.json()["components"] == {"database": "ok", "cache": "down"}


class _DatabaseLock:
    """Another session holding a lock: SQLite's exclusive (write) lock on the whole file, or PostgreSQL's ACCESS
    EXCLUSIVE lock on the user table (which every authenticated request reads)."""

    def __enter__(self):
        import copy

        from django.db import connection, connections

        self.holder = type(connections["default"])(copy.deepcopy(connection.settings_dict), "default")
        cursor = self.holder.cursor()
        if connection.vendor == "sqlite":
            cursor.execute("BEGIN EXCLUSIVE")
        else:
            cursor.execute("BEGIN")
            cursor.execute("LOCK TABLE accounts_user IN ACCESS EXCLUSIVE MODE")
        self.cursor = cursor
        return self

    def __exit__(self, *exc):
        self.cursor.execute("ROLLBACK")
        self.holder.close()


def _timed_get(client, path):

    started = time.perf_counter()
    response = client.get(path)
    return response, time.perf_counter() - started


@pytest.mark.django_db(transaction=True)  # the lock holder must not wait behind the test's own transaction
def test_health_reports_a_locked_database_within_its_timeout(api_client, user, settings):
    """With the user table locked (PostgreSQL), real requests hang with no timeout at all. SELECT 1 still answered "ok"
    in milliseconds; health must read a real table and give up after its timeout.

    SQLite runs in WAL mode (amarktai/settings/database.py): a session holding the write lock no longer stops readers,
    so the user table every request reads still answers, and health says so, at once."""
    from django.db import connection

    settings.HEALTH_DB_TIMEOUT_MS = 300
    staff = APIClient()
    staff.force_authenticate(user)  # no token check: that would read the locked user table itself
    with _DatabaseLock():
        r, elapsed = _timed_get(api_client, "/api/health")
        components, components_elapsed = _timed_get(staff, "/api/health/components")
    if connection.vendor == "sqlite":
        assert r.status_code == 200 and r.json()["components"]["database"] == "ok", r.content
        assert elapsed < 0.3 + 1.5, elapsed
        assert components.json()["components"]["database"]["status"] == "ok"
        return
    assert r.status_code == 503, r.content
    body = r.json()
    assert body["success"] is False and body["error_code"] == "SERVICE_UNAVAILABLE" and body["timestamp"].endswith("Z")
    assert body["status"] == "degraded" and body["components"] == {"database": "down", "cache": "ok"}
    assert r["Retry-After"]
    assert elapsed < 0.3 + 1.5, elapsed
    assert components.status_code == 200 and components_elapsed < 0.3 + 1.5, components_elapsed
    report = components.json()
    assert report["status"] == "degraded" and report["components"]["database"]["status"] == "down"
    assert report["components"]["database"]["error"] in {"OperationalError", "timeout"}
    # The lock released, health is ok again within moments (a probe that started under the lock may still report it
    # until it ends; the next one sees the database as it is).
    deadline = time.monotonic() + 3
    while (r := api_client.get("/api/health")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.django_db
def test_health_reports_an_unreachable_database(api_client, monkeypatch, settings):
    """A stopped PostgreSQL (nothing listens on the port) or a SQLite file that cannot be opened: 503 at once."""
    from django.db import connection

    from tests.servers import free_port

    settings.HEALTH_DB_TIMEOUT_MS = 2000
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent-dir/amarktai.sqlite3")
    else:
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(connection.settings_dict, "PORT", str(free_port()))
    r, elapsed = _timed_get(api_client, "/api/health")
    assert r.status_code == 503 and r.json()["components"]["database"] == "down", r.content
    assert elapsed < 2.0, elapsed


@pytest.mark.django_db
def test_health_never_waits_longer_than_its_timeout(api_client, monkeypatch, settings):
    """Whatever hangs (a server that stopped answering, a network that drops packets), the caller waits no longer than
    HEALTH_DB_TIMEOUT_MS; concurrent health requests share the one probe in flight instead of piling up threads."""
    import threading

    from realtime import health

    settings.HEALTH_DB_TIMEOUT_MS = 200
    release, calls = threading.Event(), []

    def hanging_probe(wrapper, limit):
        calls.append(limit)
        release.wait(30)

    monkeypatch.setattr(health, "_probe_database", hanging_probe)
    try:
        first, first_elapsed = _timed_get(api_client, "/api/health")
        second, second_elapsed = _timed_get(api_client, "/api/health")
    finally:
        release.set()
        health._probe.result(timeout=5)  # the hung probe ends: later checks start a fresh one
    assert first.status_code == 503 and second.status_code == 503
    assert first_elapsed < 1.5 and second_elapsed < 1.5, (first_elapsed, second_elapsed)
    assert len(calls) == 1  # the second request joined the hung probe
    assert health.check_database()[0] is True


@pytest.mark.django_db
def test_components_require_auth(api_client):
    assert_error(api_client.get("/api/health/components"), 401, "AUTH_REQUIRED")


@pytest.mark.django_db
def test_components_report_each_dependency(auth_client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    r = auth_client.get("/api/health/components")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["status"] == "ok" and body["timestamp"].endswith("Z")
    c = body["components"]
    assert set(c) == {"database", "cache", "channel_layer", "celery", "exchanges", "rate_limits", "market_data"}
    assert c["database"]["status"] == "ok" and c["database"]["latency_ms"] >= 0
    assert c["cache"]["status"] == "ok" and c["channel_layer"]["status"] == "ok"
    assert c["celery"] == {"status": "embedded", "mode": "embedded", "workers": []}
    assert set(c["exchanges"]["platforms"]) == set(PLATFORMS)  # every catalogue platform, crypto and brokers
    assert c["exchanges"]["platforms"]["luno"] == {"enabled": True, "status": "enabled"}
    # the shared exchange rate limiter (trading.exchanges.ratelimit): no bucket used yet, none backing off
    assert c["rate_limits"]["status"] == "ok" and c["rate_limits"]["backing_off"] == 0
    assert c["rate_limits"]["backend"] == ("redis" if settings.REDIS_URL else "local")


@pytest.mark.django_db
def test_components_degraded_when_channel_layer_is_down(auth_client):
    from channels.layers import channel_layers

    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [BROKEN_REDIS]}}}
    with override_settings(CHANNEL_LAYERS=layers):
        channel_layers.backends.clear()
        try:
            body = auth_client.get("/api/health/components").json()
        finally:
            channel_layers.backends.clear()
    assert body["status"] == "degraded"
    assert body["components"]["channel_layer"]["status"] == "down"
    assert body["components"]["database"]["status"] == "ok"


class _Inspect:
    def __init__(self, replies):
        self.replies = replies

    def ping(self):
        if isinstance(self.replies, Exception):
            raise self.replies
        return self.replies


@pytest.mark.django_db
@pytest.mark.parametrize(
    "replies, status, workers",
    [
        ({"celery@w1": {"ok": "pong"}, "celery@w2": {"ok": "pong"}}, "ok", ["celery@w1", "celery@w2"]),
        (None, "down", []),
        (ConnectionRefusedError(), "down", []),
    ],
)
def test_celery_workers_seen_with_a_broker(auth_client, settings, monkeypatch, replies, status, workers):
    """With a broker configured, workers come from `inspect().ping()` (the broker reply is stubbed here)."""
    from amarktai.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls = []
    monkeypatch.setattr(app.control, "inspect", lambda timeout: calls.append(timeout) or _Inspect(replies))
    celery = auth_client.get("/api/health/components").json()["components"]["celery"]
    assert celery["status"] == status and celery["workers"] == workers and celery["mode"] == "broker"
    assert calls and calls[0] <= 2
    auth_client.get("/api/health/components")
    assert len(calls) == 1  # cached briefly: the broker is not asked again


def circuit_state(platform_id):
    return "open" if platform_id == "kraken" else "closed"


@pytest.mark.django_db
def test_exchange_circuit_state_provider(auth_client, settings):
    settings.EXCHANGE_STATE_PROVIDER = "tests.realtime.test_health_metrics.circuit_state"
    body = auth_client.get("/api/health/components").json()
    platforms = body["components"]["exchanges"]["platforms"]
    assert platforms["kraken"] == {"enabled": True, "status": "down", "circuit": "open"}
    assert platforms["luno"]["circuit"] == "closed"
    assert body["components"]["exchanges"]["status"] == "down" and body["status"] == "degraded"


@pytest.mark.django_db
def test_metrics_exposes_request_counts_and_latency(api_client, auth_client):
    from realtime.metrics import HTTP_REQUESTS

    before = HTTP_REQUESTS.labels("GET", "200")._value.get()
    auth_client.get("/api/system/status")
    assert HTTP_REQUESTS.labels("GET", "200")._value.get() == before + 1
    r = api_client.get("/metrics")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain")
    text = r.content.decode()
    for name in (
        "amarktai_http_requests_total",
        "amarktai_http_request_seconds_bucket",
        "amarktai_websocket_connections",
        "amarktai_sse_connections",
        "amarktai_bot_ticks_total",
        "amarktai_orders_total",
    ):
        assert name in text
    assert 'amarktai_http_requests_total{method="GET",status="200"}' in text


@pytest.mark.django_db
def test_metrics_token(api_client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape"
    assert api_client.get("/metrics").status_code == 401
    assert api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    r = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape")
    assert r.status_code == 200 and b"amarktai_http_requests_total" in r.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "peer, forwarded, status",
    [
        ("127.0.0.1", None, 200),  # Prometheus on this host, or a Daphne process scraped directly
        ("10.1.2.3", None, 200),  # the internal network, straight to the app
        ("127.0.0.1", "10.1.2.3", 200),  # the internal network through nginx
        ("203.0.113.9", None, 403),  # the app exposed without nginx
        ("127.0.0.1", "203.0.113.9", 403),  # an nginx that forwards /metrics from the internet
        ("203.0.113.9", "10.1.2.3", 403),  # a forged X-Forwarded-For from an untrusted peer is not believed
    ],
)
def test_metrics_without_a_token_answer_internal_clients_only(api_client, settings, peer, forwarded, status):
    settings.METRICS_TOKEN = ""
    extra = {"REMOTE_ADDR": peer}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    r = api_client.get("/metrics", **extra)
    assert r.status_code == status, r.content[:200]
    assert (b"amarktai_http_requests_total" in r.content) is (status == 200)


@pytest.mark.django_db
def test_metrics_token_opens_it_to_any_address(api_client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape"
    assert api_client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 401
    r = api_client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-scrape")
    assert r.status_code == 200


@pytest.mark.django_db
def test_error_statuses_are_counted(api_client):
    from realtime.metrics import HTTP_REQUESTS

    before = HTTP_REQUESTS.labels("GET", "401")._value.get()
    api_client.get("/api/system/status")
    assert HTTP_REQUESTS.labels("GET", "401")._value.get() == before + 1
