"""System endpoints, platform catalogue, error schema on every kind of failure, throttling, OpenAPI."""

import logging

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.generics import GenericAPIView

from accounts.models import User
from amarktai.urls import urlpatterns as real_urlpatterns
from tests.helpers import assert_error


@pytest.mark.django_db
def test_ping(api_client):
    r = api_client.get("/api/system/ping")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"status", "timestamp"} and body["status"] == "ok" and body["timestamp"].endswith("Z")


@pytest.mark.django_db
def test_status_real_checks(auth_client, user):
    from bots.models import Bot

    Bot.objects.create(
        user=user,
        name="A",
        exchange="luno",
        symbol="BTC/ZAR",
        status="active",
        initial_capital=1000,
        current_capital=1000,
    )
    Bot.objects.create(
        user=user,
        name="B",
        exchange="luno",
        symbol="BTC/ZAR",
        status="paused",
        initial_capital=1000,
        current_capital=1000,
    )
    r = auth_client.get("/api/system/status")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["timestamp"].endswith("Z")
    assert body["status"] == {
        "database": "connected",
        "websocket": "active",
        "sse": "active",
        "api": "operational",
        "bots_active": 1,
        "bots_total": 2,
        "trading": "running",  # the platform's trading switch (POST /api/system/stop)
        "user_trading": "running",  # the user's kill switch (POST /api/trading/stop)
    }
    assert body["system"]["status"] == "running" and "changed_by" not in body["system"]


@pytest.mark.django_db
def test_status_counts_only_own_bots(auth_client, other_user):
    from bots.models import Bot

    Bot.objects.create(
        user=other_user,
        name="X",
        exchange="luno",
        symbol="BTC/ZAR",
        status="active",
        initial_capital=1,
        current_capital=1,
    )
    status = auth_client.get("/api/system/status").json()["status"]
    assert status["bots_total"] == 0 and status["bots_active"] == 0


@pytest.mark.django_db
def test_status_reports_broken_channel_layer(auth_client):
    with override_settings(
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": ["redis://127.0.0.1:1"]},
            }
        }
    ):
        from channels.layers import channel_layers

        channel_layers.backends.clear()
        try:
            body = auth_client.get("/api/system/status").json()
        finally:
            channel_layers.backends.clear()
    assert body["status"]["websocket"] == "unavailable" and body["status"]["api"] == "degraded"


@pytest.mark.django_db
class TestMode:
    def test_get_default(self, auth_client):
        r = auth_client.get("/api/system/mode")
        assert r.json() == {
            "success": True,
            "mode": "testing",
            "paper_trading": True,
            "live_trading": False,
            "autopilot": False,
        }

    def test_live_requires_2fa(self, auth_client, user):
        assert_error(
            auth_client.post("/api/system/mode", {"mode": "live_trading"}, format="json"), 403, "PERMISSION_DENIED"
        )
        assert_error(
            auth_client.post("/api/system/mode", {"mode": "autopilot"}, format="json"), 403, "PERMISSION_DENIED"
        )
        user.refresh_from_db()
        assert user.system_mode == "testing"
        User.objects.filter(pk=user.pk).update(two_factor_enabled=True)
        r = auth_client.post("/api/system/mode", {"mode": "live_trading"}, format="json")
        assert r.status_code == 200 and r.json() == {"success": True, "mode": "live_trading"}
        assert auth_client.get("/api/system/mode").json() == {
            "success": True,
            "mode": "live_trading",
            "paper_trading": False,
            "live_trading": True,
            "autopilot": False,
        }
        r = auth_client.post("/api/system/mode", {"mode": "autopilot"}, format="json")
        assert r.json()["mode"] == "autopilot"
        assert auth_client.get("/api/system/mode").json()["autopilot"] is True

    def test_testing_always_allowed_and_invalid_rejected(self, auth_client):
        assert auth_client.post("/api/system/mode", {"mode": "testing"}, format="json").status_code == 200
        assert_error(auth_client.post("/api/system/mode", {"mode": "yolo"}, format="json"), 400, "VALIDATION_ERROR")
        assert_error(auth_client.post("/api/system/mode", {}, format="json"), 400, "VALIDATION_ERROR")


@pytest.mark.django_db
def test_platform_catalogue(api_client):
    r = api_client.get("/api/system/platforms")
    assert r.status_code == 200
    body = r.json()
    assert body["default"] == "all" and body["timestamp"].endswith("Z")
    ids = [p["id"] for p in body["platforms"]]
    assert {"luno", "binance", "kucoin", "kraken", "valr"} <= set(ids)
    assert body["total_count"] == len(ids)
    keys = {
        "id",
        "name",
        "display_name",
        "enabled",
        "bot_limit",
        "supports_paper",
        "supports_live",
        "icon",
        "color",
        "region",
    }
    for platform in body["platforms"]:
        assert keys <= set(platform)
        assert isinstance(platform["bot_limit"], int) and platform["bot_limit"] > 0
    luno = next(p for p in body["platforms"] if p["id"] == "luno")
    assert luno["region"] == "ZA" and luno["display_name"] == "Luno"


BROKERS = {"alpaca", "openalgo", "mstock"}  # issue 12: stock brokers are listed as type "broker"


@pytest.mark.django_db
def test_providers(api_client):
    r = api_client.get("/api/providers")
    assert r.status_code == 200
    providers = {p["id"]: p for p in r.json()["providers"]}
    assert r.json()["success"] is True
    assert {"luno", "binance", "kucoin", "kraken", "valr"} <= set(providers)
    for provider in providers.values():
        assert {"id", "type", "display_name", "required_fields", "icon", "description"} <= set(provider)
        assert provider["type"] == (
            "exchange" if provider["id"] in {"luno", "binance", "kucoin", "kraken", "valr"} else "broker"
        )
    assert providers["alpaca"]["required_fields"] == ["api_key", "api_secret"]
    assert providers["kucoin"]["required_fields"] == ["api_key", "api_secret", "passphrase"]
    assert providers["luno"]["required_fields"] == ["api_key", "api_secret"]


class _Boom(GenericAPIView):
    permission_classes = []
    authentication_classes = []

    def get(self, request):
        raise RuntimeError("secret internals: db password hunter2")


urlpatterns = [path("api/test/boom", _Boom.as_view()), *real_urlpatterns]


@pytest.mark.django_db
class TestErrorSchema:
    def test_unknown_api_path_is_404_schema(self, api_client):
        assert_error(api_client.get("/api/does-not-exist"), 404, "NOT_FOUND")

    def test_method_not_allowed(self, api_client):
        r = assert_error(api_client.delete("/api/system/ping"), 405, "METHOD_NOT_ALLOWED")
        assert r["error"]

    @override_settings(ROOT_URLCONF=__name__)
    def test_unexpected_500_never_leaks(self, caplog):
        from django.test import Client

        caplog.set_level(logging.ERROR)
        r = Client(raise_request_exception=False).get("/api/test/boom")
        body = assert_error(r, 500, "INTERNAL_ERROR")
        assert "hunter2" not in r.content.decode() and "Traceback" not in r.content.decode()
        assert body["error"] == "Internal server error"
        assert any("boom" in rec.getMessage() for rec in caplog.records)


@pytest.fixture
def throttle_rates(monkeypatch):
    """Lower the auth throttle rates for one test (restored afterwards)."""
    from rest_framework.throttling import SimpleRateThrottle

    def apply(**rates):
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **rates})

    return apply


@pytest.mark.django_db
class TestThrottling:
    def test_login_throttled_per_account(self, api_client, make_user, throttle_rates):
        throttle_rates(auth_account="3/min", auth_ip="100/min")
        make_user(email="victim@example.com", password="Str0ng-Passphrase!")
        bad = {"email": "victim@example.com", "password": "guess"}
        for _ in range(3):
            assert_error(api_client.post("/api/auth/login", bad, format="json"), 401, "AUTH_INVALID")
        r = api_client.post("/api/auth/login", {**bad, "password": "Str0ng-Passphrase!"}, format="json")
        assert_error(r, 429, "RATE_LIMIT")
        assert int(r["Retry-After"]) > 0
        # Another account from the same IP is not locked by this one.
        make_user(email="other@example.com", password="Str0ng-Passphrase!")
        ok = api_client.post(
            "/api/auth/login", {"email": "other@example.com", "password": "Str0ng-Passphrase!"}, format="json"
        )
        assert ok.status_code == 200

    def test_login_throttled_per_ip(self, api_client, throttle_rates):
        throttle_rates(auth_ip="4/min")
        for i in range(4):
            r = api_client.post("/api/auth/login", {"email": f"u{i}@example.com", "password": "x"}, format="json")
            assert r.status_code == 401
        r = api_client.post("/api/auth/login", {"email": "u9@example.com", "password": "x"}, format="json")
        assert_error(r, 429, "RATE_LIMIT")
        # A client at another address is not affected.
        r = api_client.post(
            "/api/auth/login", {"email": "u9@example.com", "password": "x"}, format="json", REMOTE_ADDR="10.9.9.9"
        )
        assert_error(r, 401, "AUTH_INVALID")

    def test_register_throttled_per_ip(self, api_client, throttle_rates):
        throttle_rates(register_ip="2/min")
        for _ in range(2):
            assert_error(api_client.post("/api/auth/register", {}, format="json"), 400, "VALIDATION_ERROR")
        assert_error(api_client.post("/api/auth/register", {}, format="json"), 429, "RATE_LIMIT")

    def test_2fa_verify_throttled_per_account(self, auth_client, throttle_rates):
        throttle_rates(auth_account="2/min")
        auth_client.post("/api/auth/2fa/enroll")
        for code in ("000001", "000002"):
            assert_error(
                auth_client.post("/api/auth/2fa/verify", {"totp_code": code}, format="json"), 400, "VALIDATION_ERROR"
            )
        assert_error(
            auth_client.post("/api/auth/2fa/verify", {"totp_code": "000003"}, format="json"), 429, "RATE_LIMIT"
        )


@pytest.mark.django_db
def test_openapi_schema_and_docs(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    spec = schema.json()
    assert "/api/auth/login" in spec["paths"] and "/api/system/mode" in spec["paths"]
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
