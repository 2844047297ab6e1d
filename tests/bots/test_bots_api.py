"""Bot endpoints per the contract, validation, limits, live-mode rules, pause/resume/delete, tenant isolation."""

import pytest

from accounts.models import User
from bots.models import Bot
from tests.helpers import assert_error

BOT = {
    "name": "Alpha Trader",
    "exchange": "luno",
    "trading_mode": "paper",
    "risk_mode": "balanced",
    "initial_capital": 1000.0,
    "strategy": "momentum",
}
BOT_KEYS = {
    "id",
    "name",
    "exchange",
    "status",
    "trading_mode",
    "risk_mode",
    "initial_capital",
    "current_capital",
    "total_profit",
    "profit_percentage",
    "created_at",
    "strategy",
}


def create(client, **overrides):
    return client.post("/api/bots", {**BOT, **overrides}, format="json")


@pytest.mark.django_db
class TestBotsApi:
    def test_create_shape_and_list(self, auth_client):
        r = create(auth_client)
        assert r.status_code == 201
        body = r.json()
        assert body["success"] is True and set(body["bot"]) == {"id", "name", "status"}
        assert body["bot"]["name"] == "Alpha Trader" and body["bot"]["status"] == "created"
        listing = auth_client.get("/api/bots").json()
        assert listing["success"] is True and listing["total"] == 1
        bot = listing["bots"][0]
        assert BOT_KEYS <= set(bot)
        assert bot["initial_capital"] == 1000.0 and bot["current_capital"] == 1000.0 and bot["total_profit"] == 0.0
        assert bot["profit_percentage"] == 0.0 and bot["symbol"] == "BTC/ZAR" and bot["created_at"].endswith("Z")

    def test_filters(self, auth_client):
        create(auth_client)
        create(auth_client, name="B", exchange="binance")
        assert auth_client.get("/api/bots?platform=binance").json()["total"] == 1
        assert auth_client.get("/api/bots?status=created").json()["total"] == 2
        assert auth_client.get("/api/bots?status=active").json()["total"] == 0
        assert_error(auth_client.get("/api/bots?status=sleeping"), 400, "VALIDATION_ERROR")

    @pytest.mark.parametrize(
        "overrides, field",
        [
            ({"exchange": "mtgox"}, "exchange"),
            ({"strategy": "martingale"}, "strategy"),
            ({"initial_capital": 0}, "initial_capital"),
            ({"initial_capital": -5}, "initial_capital"),
            ({"risk_mode": "yolo"}, "risk_mode"),
            ({"name": ""}, "name"),
            ({"symbol": "DOGE/ZAR"}, "symbol"),
            ({"params": {"fast": -1}}, "params"),
            ({"params": {"leverage": 100}}, "params"),
        ],
    )
    def test_validation(self, auth_client, overrides, field):
        body = assert_error(create(auth_client, **overrides), 400, "VALIDATION_ERROR")
        assert field in body["error"] or field in body.get("details", {})
        assert Bot.objects.count() == 0

    def test_platform_bot_limit(self, auth_client):
        for i in range(5):  # Luno allows 5
            assert create(auth_client, name=f"B{i}").status_code == 201
        assert_error(create(auth_client, name="one too many"), 400, "VALIDATION_ERROR")

    def test_live_bot_requires_mode_and_keys(self, auth_client, user):
        assert_error(create(auth_client, trading_mode="live"), 403, "PERMISSION_DENIED")
        User.objects.filter(pk=user.pk).update(two_factor_enabled=True, system_mode="live_trading")
        assert_error(create(auth_client, trading_mode="live"), 403, "PERMISSION_DENIED")  # no stored, valid keys
        assert Bot.objects.count() == 0

    def test_detail_patch_pause_resume_delete(self, auth_client):
        bot_id = create(auth_client).json()["bot"]["id"]
        detail = auth_client.get(f"/api/bots/{bot_id}").json()["bot"]
        assert BOT_KEYS <= set(detail)
        patched = auth_client.patch(
            f"/api/bots/{bot_id}", {"risk_mode": "safe", "params": {"fast": 3, "slow": 9}}, format="json"
        )
        assert patched.status_code == 200 and patched.json()["bot"]["risk_mode"] == "safe"
        assert_error(
            auth_client.patch(f"/api/bots/{bot_id}", {"risk_mode": "wild"}, format="json"), 400, "VALIDATION_ERROR"
        )
        assert auth_client.post(f"/api/bots/{bot_id}/pause").json() == {
            "success": True,
            "bot_id": bot_id,
            "status": "paused",
        }
        assert auth_client.post(f"/api/bots/{bot_id}/resume").json() == {
            "success": True,
            "bot_id": bot_id,
            "status": "active",
        }
        deleted = auth_client.delete(f"/api/bots/{bot_id}")
        assert deleted.json() == {"success": True, "message": "Bot deleted successfully"}
        assert_error(auth_client.get(f"/api/bots/{bot_id}"), 404, "NOT_FOUND")

    def test_other_users_bots_are_invisible(self, auth_client, other_client):
        bot_id = create(auth_client).json()["bot"]["id"]
        assert other_client.get("/api/bots").json() == {"success": True, "bots": [], "total": 0}
        for method, path in [("get", ""), ("patch", ""), ("delete", ""), ("post", "/pause"), ("post", "/resume")]:
            response = getattr(other_client, method)(f"/api/bots/{bot_id}{path}", {}, format="json")
            assert_error(response, 404, "NOT_FOUND")
        assert Bot.objects.get(pk=bot_id).status == "created"


@pytest.mark.django_db
def test_cached_bot_list_follows_every_write(auth_client, user):
    """GET /api/bots is served from a per-user cache: saves, queryset updates and deletes must all show at once."""
    bot_id = create(auth_client).json()["bot"]["id"]
    assert auth_client.get("/api/bots").json()["bots"][0]["status"] == "created"
    auth_client.post(f"/api/bots/{bot_id}/pause")
    assert auth_client.get("/api/bots").json()["bots"][0]["status"] == "paused"
    Bot.objects.filter(pk=bot_id).update(last_error="exchange timeout")  # as the engine writes
    assert auth_client.get("/api/bots").json()["bots"][0]["last_error"] == "exchange timeout"
    Bot.objects.get(pk=bot_id).delete()
    assert auth_client.get("/api/bots").json()["total"] == 0


@pytest.mark.django_db
def test_cached_user_follows_account_changes(auth_client, user):
    assert auth_client.get("/api/auth/me").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_error(auth_client.get("/api/auth/me"), 401, "AUTH_INVALID")
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.refresh_from_db()
    user.first_name = "Renamed"
    user.save()
    assert auth_client.get("/api/auth/me").json()["user"]["first_name"] == "Renamed"


@pytest.mark.django_db
def test_bot_list_read_costs_one_cache_round_trip(auth_client, monkeypatch):
    """Authentication fetches the user and the bot list's version in one MGET; the list itself is then memoized per
    version in the process, so a warm GET /api/bots makes exactly one cache call
    (one Redis round trip in production)."""
    from django.core.cache import caches

    create(auth_client)
    assert auth_client.get("/api/bots").json()["total"] == 1  # warm: user cached, version set, list memoized
    backend = caches["default"]
    calls, depth = [], [0]

    def counting(name, original):
        def call(*args, **kwargs):  # counts the calls our code makes, not the backend's own (locmem's get_many gets)
            if not depth[0]:
                calls.append(name)
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1

        return call

    for name in ("get", "get_many", "set", "set_many", "incr", "add", "delete", "delete_many", "has_key"):
        monkeypatch.setattr(backend, name, counting(name, getattr(backend, name)))
    assert auth_client.get("/api/bots").json()["total"] == 1
    assert calls == ["get_many"]


@pytest.mark.django_db
def test_pinned_version_never_hides_a_write_made_since(user):
    """Values pinned at authentication are dropped once the process invalidates anything (a request that writes and
    then reads sees its write), and a copy of the user object (pickled elsewhere) never uses them."""
    import pickle
    import subprocess
    import sys

    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.authentication import _user_for_jwt
    from amarktai import cache
    from bots.selectors import bot_list
    from tests.servers import ROOT

    assert bot_list(user) == []  # starts a version
    request_user = _user_for_jwt(AccessToken.for_user(user), pin=True)
    assert bot_list(request_user) == []
    Bot.objects.create(
        user=user, name="Fresh", exchange="luno", symbol="BTC/ZAR", initial_capital=100, current_capital=100
    )
    assert [b["name"] for b in bot_list(request_user)] == ["Fresh"]

    # Even a process's very first invalidation drops pins made before it (a fresh interpreter: its first write must
    # move the mark away from its starting value).
    first_mark = subprocess.run(
        [
            sys.executable,
            "-c",
            "from amarktai import cache; start = cache._last_write[0]; "
            "cache._note_write(); print(start, cache._last_write[0])",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert first_mark[0] != first_mark[1]
    request_user = _user_for_jwt(AccessToken.for_user(user), pin=True)
    key = next(k for k in request_user._cache_pinned[0] if k.startswith("bots:list:version:"))
    request_user._cache_pinned[0][key] = "pinned"
    assert cache.pinned_get(request_user, key) == "pinned"
    cache.incr_or_set(key)
    assert cache.pinned_get(request_user, key) != "pinned"

    request_user = _user_for_jwt(AccessToken.for_user(user), pin=True)
    copy = pickle.loads(pickle.dumps(request_user))
    key = next(k for k in request_user._cache_pinned[0] if k.startswith("bots:list:version:"))
    request_user._cache_pinned[0][key] = "pinned"
    assert cache.pinned_get(request_user, key) == "pinned"
    assert cache.pinned_get(copy, key) != "pinned"
