"""GET /api/health, GET /api/health/components, /metrics and the request-metrics middleware."""

import pytest
from django.test import override_settings

from tests.helpers import assert_error

BROKEN_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_health_is_public_and_ok(api_client):
    r = api_client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"status", "timestamp"} and body["status"] == "ok" and body["timestamp"].endswith("Z")


@pytest.mark.django_db
def test_health_degraded_when_cache_is_down(api_client):
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": BROKEN_REDIS}}
    ):
        body = api_client.get("/api/health").json()
    assert body["status"] == "degraded"


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
    assert set(c) == {"database", "cache", "channel_layer", "celery", "exchanges"}
    assert c["database"]["status"] == "ok" and c["database"]["latency_ms"] >= 0
    assert c["cache"]["status"] == "ok" and c["channel_layer"]["status"] == "ok"
    assert c["celery"] == {"status": "embedded", "mode": "embedded", "workers": []}
    assert set(c["exchanges"]["platforms"]) == {"luno", "binance", "kucoin", "kraken", "valr"}
    assert c["exchanges"]["platforms"]["luno"] == {"enabled": True, "status": "enabled"}


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
def test_error_statuses_are_counted(api_client):
    from realtime.metrics import HTTP_REQUESTS

    before = HTTP_REQUESTS.labels("GET", "401")._value.get()
    api_client.get("/api/system/status")
    assert HTTP_REQUESTS.labels("GET", "401")._value.get() == before + 1
