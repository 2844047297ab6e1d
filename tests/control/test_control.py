"""Operating the platform (issue 15), end to end through the API and the WebSocket feed: the user's kill switch, the
admins' system start/stop/restart, configuration sections, export/import and the risk limits the engine enforces."""

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection

from accounts.models import AuditLog
from bots import engine
from bots.models import Bot
from bots.services import create_bot
from bots.strategies.base import PROTECTION_PARAMS as PROTECTIONS
from tests.bots.test_engine import BUY, scaled
from tests.helpers import assert_error, client_for
from tests.realtime.conftest import run, token_for, ws_connect, ws_receive
from trading.models import Order, Position, Trade

RESTING_BUY = {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "limit", "amount": 0.01, "price": 500000}


def _bot(user, name, capital="20000"):
    return create_bot(user, name=name, exchange="luno", initial_capital=Decimal(capital), strategy="momentum")


async def _receive_type(comm, kind, timeout=5):
    """The next WebSocket message of type ``kind`` (others are skipped)."""
    while True:
        message = await ws_receive(comm, timeout)
        if message["type"] == kind:
            return message


# ------------------------------------------------------------------ the kill switch


@pytest.mark.django_db(transaction=True)
def test_stop_trading_pauses_every_bot_cancels_every_order_and_is_reported(user, other_user):
    """A new user's one click: every bot pauses, every order is cancelled, positions close at market when asked; the
    WebSocket says so, the audit log records it; a second stop changes nothing more; start resumes only those bots."""
    client = client_for(user)
    alpha, beta, held = _bot(user, "Alpha"), _bot(user, "Beta"), _bot(user, "Held")
    engine.tick_bot(alpha.pk, scaled(BUY, 12000))  # Alpha opens a position
    assert Position.objects.filter(bot=alpha, is_open=True).exists()
    assert client.post(f"/api/bots/{held.pk}/pause").json()["status"] == "paused"  # the user's own pause
    order = client.post("/api/orders", RESTING_BUY, format="json").json()["order"]
    assert order["status"] == "open"
    stranger = _bot(other_user, "Stranger")
    stranger_order = client_for(other_user).post("/api/orders", RESTING_BUY, format="json").json()["order"]

    async def scenario():
        from channels.db import database_sync_to_async

        comm = await ws_connect(token=token_for(user))
        others = await ws_connect(token=token_for(other_user))
        response = await database_sync_to_async(client.post)(
            "/api/trading/stop", {"close_positions": True}, format="json"
        )
        assert response.status_code == 200, response.content
        message = await _receive_type(comm, "trading_status")
        assert await others.receive_nothing(0.3)
        return response.json()["trading"], message

    result, message = run(scenario)
    assert result["status"] == "stopped" and result["already_stopped"] is False
    assert sorted(result["paused_bots"]) == sorted([str(alpha.pk), str(beta.pk)])
    assert result["canceled_orders"] == [order["id"]] and len(result["closed_positions"]) == 1 and not result["errors"]
    assert message["status"] == "stopped" and sorted(message["paused_bots"]) == sorted(result["paused_bots"])
    assert message["canceled_orders"] == [order["id"]] and message["timestamp"].endswith("Z")
    assert {b.name: (b.status, b.pause_origin) for b in Bot.objects.filter(user=user)} == {
        "Alpha": ("paused", "kill_switch"),
        "Beta": ("paused", "kill_switch"),
        "Held": ("paused", ""),
    }
    assert Order.objects.get(pk=order["id"]).status == "canceled"
    assert not Position.objects.filter(user=user, is_open=True).exists()
    assert Trade.objects.filter(bot=alpha, side="sell").count() == 1
    # Nothing of the other user's changed.
    assert Bot.objects.get(pk=stranger.pk).status == "created"
    assert Order.objects.get(pk=stranger_order["id"]).status == "open"
    audit = AuditLog.objects.get(action="trading.stop")
    assert audit.actor_id == user.pk and audit.details["close_positions"] is True

    # Idempotent: nothing more to pause or cancel.
    again = client.post("/api/trading/stop", {}, format="json").json()["trading"]
    assert again["already_stopped"] is True and again["paused_bots"] == [] and again["canceled_orders"] == []
    status = client.get("/api/trading/status").json()
    assert status["trading"]["status"] == "stopped" and status["trading"]["paused_by_stop"] == 2
    assert status["system"]["status"] == "running"
    assert client.get("/api/system/status").json()["status"]["user_trading"] == "stopped"
    # While stopped, a bot cannot be resumed on its own and a new bot waits, paused.
    assert_error(client.post(f"/api/bots/{beta.pk}/resume"), 409, "CONFLICT")
    late = _bot(user, "Late")
    assert (late.status, late.pause_origin) == ("paused", "kill_switch")
    # The user now pauses Beta on purpose: starting must not resume it.
    client.post(f"/api/bots/{beta.pk}/pause")

    started = client.post("/api/trading/start").json()["trading"]
    assert started["status"] == "running" and sorted(started["resumed_bots"]) == sorted([str(alpha.pk), str(late.pk)])
    states = {b.name: b.status for b in Bot.objects.filter(user=user)}
    assert states == {"Alpha": "active", "Beta": "paused", "Held": "paused", "Late": "active"}
    assert client.post("/api/trading/start").json()["trading"]["resumed_bots"] == []  # idempotent
    assert AuditLog.objects.filter(action="trading.start").count() == 2


@pytest.mark.django_db
def test_an_admin_pause_survives_start(user, admin_client):
    client = client_for(user)
    a, b = _bot(user, "A"), _bot(user, "B")
    client.post("/api/trading/stop", {}, format="json")
    assert admin_client.post(f"/api/admin/bot/{a.pk}/pause", {"reason": "review"}, format="json").status_code == 200
    resumed = client.post("/api/trading/start").json()["trading"]["resumed_bots"]
    assert resumed == [str(b.pk)]
    assert Bot.objects.get(pk=a.pk).status == "paused"


@pytest.mark.django_db
def test_stop_with_an_api_key_needs_the_trade_scope(user):
    from rest_framework.test import APIClient

    from accounts.models import ApiKey

    _key, raw = ApiKey.generate(user, "reader", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/trading/status").status_code == 200
    assert_error(client.post("/api/trading/stop", {}, format="json"), 403, "PERMISSION_DENIED")


@pytest.mark.django_db
def test_trading_switch_is_callable_from_other_code(user):
    from bots import trading_switch

    bot = _bot(user, "Callable")
    result = trading_switch.stop_trading(user)
    assert result["paused_bots"] == [str(bot.pk)]
    assert trading_switch.start_trading(user)["resumed_bots"] == [str(bot.pk)]


# ------------------------------------------------------------------ system control


@pytest.mark.django_db(transaction=True)
def test_system_stop_halts_engine_and_orders_and_survives_a_restart(user, admin_user):
    admin, client = client_for(admin_user), client_for(user)
    bot = _bot(user, "Engine")
    assert_error(client.post("/api/system/stop", {}, format="json"), 403, "PERMISSION_DENIED")

    async def scenario():
        from channels.db import database_sync_to_async

        comm = await ws_connect(token=token_for(user))
        response = await database_sync_to_async(admin.post)(
            "/api/system/stop", {"reason": "exchange maintenance"}, format="json"
        )
        assert response.status_code == 200, response.content
        return response.json(), await _receive_type(comm, "system_status")

    body, message = run(scenario)
    assert body["system"]["status"] == "stopped" and body["system"]["previous_status"] == "running"
    assert message["status"] == "stopped" and message["reason"] == "exchange maintenance"
    assert "changed_by" not in message  # an admin's address is for admins only
    assert body["system"]["changed_by"] == admin_user.email
    assert admin.get("/api/trading/status").json()["system"]["changed_by"] == admin_user.email
    assert "changed_by" not in client.get("/api/trading/status").json()["system"]
    assert AuditLog.objects.get(action="system.stop").actor_id == admin_user.pk

    # Orders are refused in the error schema, with a 503 and Retry-After.
    response = client.post("/api/orders", RESTING_BUY, format="json")
    body = assert_error(response, 503, "TRADING_HALTED")
    assert "exchange maintenance" in body["error"] and response["Retry-After"]
    # The engine starts no tick; the dispatcher sends nothing.
    from bots.tasks import dispatch_ticks

    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "skipped"
    assert engine.tick_group("luno", "BTC/ZAR", "1m", [str(bot.pk)]) == {"skipped": 1}
    assert dispatch_ticks() == 0
    assert not Order.objects.filter(bot=bot).exists()
    # Persisted: a fresh cache (a restarted process) still reads "stopped".
    cache.clear()
    status = client.get("/api/system/status").json()
    assert status["status"]["trading"] == "stopped" and status["system"]["reason"] == "exchange maintenance"
    assert admin_user.email not in json.dumps(status)
    if connection.vendor == "postgresql":  # a new process on the same database
        db = connection.settings_dict
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        script = "import django; django.setup(); from trading import system; print(system.trading_halted())"
        env = {**__import__("os").environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "amarktai.settings_test"}
        env.pop("REDIS_URL", None)
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert out.stdout.strip().splitlines()[-1] == "True", out.stderr[-2000:]
    # Idempotent stop; then restart runs again.
    assert admin.post("/api/system/stop", {}, format="json").json()["system"]["previous_status"] == "stopped"
    restarted = admin.post("/api/system/restart", {}, format="json").json()["system"]
    assert restarted["status"] == "running" and restarted["restarts"] == 1
    assert client.post("/api/orders", RESTING_BUY, format="json").status_code == 201
    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "traded"
    assert [a.action for a in AuditLog.objects.filter(action__startswith="system.").order_by("created_at")] == [
        "system.stop",
        "system.stop",
        "system.restart",
    ]
    assert admin.post("/api/system/start", {}, format="json").json()["system"]["status"] == "running"


# ------------------------------------------------------------------ configuration


@pytest.mark.django_db
def test_config_sections_validate_with_field_errors(user, admin_client):
    client = client_for(user)
    config = client.get("/api/config").json()["config"]
    assert set(config) == {"user"} and set(config["user"]) == {"risk", "notifications", "trading"}
    assert config["user"]["risk"] == {
        "default_risk_mode": "balanced",
        "max_position_pct": None,
        "daily_loss_limit": None,
        "max_exposure": None,
        **dict.fromkeys(PROTECTIONS),  # bots.protections, per user: off until set
    }
    saved = client.put("/api/config/risk", {"daily_loss_limit": 500, "max_position_pct": "25"}, format="json").json()
    assert saved["values"]["daily_loss_limit"] == 500.0 and saved["values"]["max_position_pct"] == 25.0
    assert client.get("/api/config/risk").json()["values"]["daily_loss_limit"] == 500.0
    # Merged: a later write of another field keeps this one.
    client.put("/api/config/risk", {"default_risk_mode": "safe"}, format="json")
    assert client.get("/api/config/risk").json()["values"]["daily_loss_limit"] == 500.0

    bad = client.put(
        "/api/config/risk",
        {"max_position_pct": 150, "daily_loss_limit": -1, "default_risk_mode": "yolo", "typo": 1},
        format="json",
    )
    details = assert_error(bad, 400, "VALIDATION_ERROR")["details"]
    assert {"max_position_pct", "daily_loss_limit", "default_risk_mode", "typo"} <= set(details)
    assert client.get("/api/config/risk").json()["values"]["default_risk_mode"] == "safe"  # unchanged
    assert_error(
        client.put("/api/config/trading", {"default_exchange": "nasdaq"}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert_error(client.put("/api/config/risk", ["x"], format="json"), 400, "VALIDATION_ERROR")
    assert_error(client.get("/api/config/engine"), 404, "NOT_FOUND")  # platform sections: admins only
    assert_error(client.get("/api/config/nope"), 404, "NOT_FOUND")

    # A new bot without a risk mode takes the default risk mode of the settings.
    created = client.post(
        "/api/bots", {"name": "Defaulted", "exchange": "luno", "initial_capital": 100}, format="json"
    ).json()["bot"]
    assert client.get(f"/api/bots/{created['id']}").json()["bot"]["risk_mode"] == "safe"

    admin_config = admin_client.get("/api/config").json()["config"]
    assert admin_config["platform"]["engine"]["tick_seconds"] > 0
    assert_error(admin_client.put("/api/config/engine", {"tick_seconds": 1}, format="json"), 400, "VALIDATION_ERROR")
    assert AuditLog.objects.filter(action="config.update", actor=user).count() == 2


@pytest.mark.django_db(transaction=True)
def test_config_update_is_published_to_its_owner_only(user, other_user):
    client = client_for(user)

    async def scenario():
        from channels.db import database_sync_to_async

        mine = await ws_connect(token=token_for(user))
        theirs = await ws_connect(token=token_for(other_user))
        await database_sync_to_async(client.put)("/api/config/notifications", {"daily_summary": True}, format="json")
        message = await _receive_type(mine, "config_update")
        assert await theirs.receive_nothing(0.5)
        return message

    message = run(scenario)
    assert message["section"] == "notifications" and message["values"]["daily_summary"] is True


# ------------------------------------------------------------------ export / import


@pytest.mark.django_db
def test_export_then_import_into_a_second_account_with_a_dry_run_first(user, other_user):
    from wallets.services.credentials import create_credential

    source, target = client_for(user), client_for(other_user)
    source.put("/api/config/risk", {"daily_loss_limit": 750, "default_risk_mode": "safe"}, format="json")
    source.put("/api/config/trading", {"default_exchange": "valr", "default_capital": 2500}, format="json")
    alpha = create_bot(
        user, name="Alpha", exchange="luno", initial_capital=Decimal("3000"), strategy="breakout", risk_mode="safe"
    )
    create_bot(user, name="Beta", exchange="binance", initial_capital=Decimal("500"), params={"position_pct": 0.1})
    create_credential(user, "luno", "source-api-key-1234", "source-api-secret-5678", label="main")

    response = source.post("/api/config/export")
    assert response.status_code == 200
    document = response.json()["document"]
    assert document["version"] == 1 and document["exported_at"].endswith("Z")
    assert [b["name"] for b in document["bots"]] == ["Alpha", "Beta"]
    assert document["config"]["risk"]["daily_loss_limit"] == 750.0
    text = json.dumps(document)
    for secret in (str(alpha.pk), str(user.pk), user.email, "source-api-key-1234", "source-api-secret-5678"):
        assert secret not in text

    dry = target.post("/api/config/import", {"document": document, "dry_run": True}, format="json").json()
    assert dry["dry_run"] is True and dry["applied"] is False
    assert dry["summary"] == {"created": 2, "updated": 2, "unchanged": 1}
    assert {(i["kind"], i["key"], i["action"]) for i in dry["items"]} == {
        ("config", "risk", "updated"),
        ("config", "trading", "updated"),
        ("config", "notifications", "unchanged"),
        ("bot", "Alpha", "created"),
        ("bot", "Beta", "created"),
    }
    assert not Bot.objects.filter(user=other_user).exists()
    assert target.get("/api/config/risk").json()["values"]["daily_loss_limit"] is None

    applied = target.post("/api/config/import", {"document": document}, format="json").json()
    assert applied["applied"] is True and applied["summary"]["created"] == 2
    bots = {b.name: b for b in Bot.objects.filter(user=other_user)}
    assert set(bots) == {"Alpha", "Beta"} and all(b.status == "paused" for b in bots.values())
    assert bots["Alpha"].strategy == "breakout" and bots["Beta"].params == {"position_pct": 0.1}
    assert target.get("/api/config/trading").json()["values"]["default_exchange"] == "valr"
    assert AuditLog.objects.filter(action="config.import", actor=other_user).exists()
    # The source is untouched, and importing again changes nothing.
    assert Bot.objects.filter(user=user).count() == 2
    again = target.post("/api/config/import", {"document": document, "dry_run": True}, format="json").json()
    assert again["summary"] == {"created": 0, "updated": 0, "unchanged": 5}
    # A bot of the same name is updated where it may be (strategy, risk, params), never moved to another market.
    document["bots"][0].update(strategy="momentum", exchange="valr", symbol="BTC/ZAR")
    changed = target.post("/api/config/import", {"document": document}, format="json").json()
    alpha_item = next(i for i in changed["items"] if i["key"] == "Alpha")
    assert (alpha_item["action"], alpha_item["changes"], alpha_item["kept"]) == ("updated", ["strategy"], ["exchange"])
    assert Bot.objects.get(user=other_user, name="Alpha").exchange == "luno"


@pytest.mark.django_db
def test_a_bad_document_changes_nothing_and_names_its_faults(user):
    client = client_for(user)
    _bot(user, "Existing")
    document = client.post("/api/config/export").json()["document"]
    document["config"]["risk"] = {"max_position_pct": 400}
    document["bots"] = [
        {**document["bots"][0], "name": "Fresh"},
        {**document["bots"][0], "name": "Broken", "strategy": "astrology", "id": "someone-elses"},
    ]
    document["surprise"] = []
    response = client.post("/api/config/import", {"document": document}, format="json")
    details = assert_error(response, 400, "VALIDATION_ERROR")["details"]
    assert {"config.risk.max_position_pct", "bots[1].strategy", "bots[1].id", "surprise"} <= set(details)
    assert list(Bot.objects.filter(user=user).values_list("name", flat=True)) == ["Existing"]
    assert client.get("/api/config/risk").json()["values"]["max_position_pct"] is None

    # A fault only the database can find (more capital than the paper account has) rolls everything back too.
    document = client.post("/api/config/export").json()["document"]
    document["config"]["risk"] = {"daily_loss_limit": 10}
    document["bots"] = [
        {**document["bots"][0], "name": "Fits"},
        {**document["bots"][0], "name": "Greedy", "initial_capital": "99999999"},
    ]
    details = assert_error(
        client.post("/api/config/import", {"document": document}, format="json"), 400, "VALIDATION_ERROR"
    )["details"]
    assert "bots[1].initial_capital" in details
    assert list(Bot.objects.filter(user=user).values_list("name", flat=True)) == ["Existing"]
    assert client.get("/api/config/risk").json()["values"]["daily_loss_limit"] is None
    assert_error(
        client.post("/api/config/import", {"document": {"version": 2}}, format="json"), 400, "VALIDATION_ERROR"
    )


# ------------------------------------------------------------------ risk limits that act


@pytest.mark.django_db
def test_daily_loss_limit_stops_entries_with_one_alert(user, monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr("realtime.events._send", lambda user_id, kind, payload: published.append((kind, payload)))
    client = client_for(user)
    bot = _bot(user, "Careful", capital="50000")
    client.put("/api/config/risk", {"daily_loss_limit": 100}, format="json")
    # A losing trade today, booked through the fill path (drops the cached figures).
    loss = _losing_trade(user, Decimal("-150"))
    assert loss.profit_loss < 0

    with django_capture_on_commit_callbacks(execute=True):
        assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "ok"
        assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "ok"
    assert not Order.objects.filter(bot=bot).exists()
    bot.refresh_from_db()
    assert "Daily loss limit reached" in bot.risk_block
    assert client.get(f"/api/bots/{bot.pk}").json()["bot"]["risk_block"] == bot.risk_block
    alerts = [p for kind, p in published if kind == "alert" and "Daily loss limit" in p["message"]]
    assert len(alerts) == 1  # once per breach per day
    assert alerts[0]["kind"] == "risk_limit"  # what notifications turn into a "risk limit hit" message

    # Raising the limit lets the bot trade again, and clears the reason.
    client.put("/api/config/risk", {"daily_loss_limit": 1000}, format="json")
    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "traded"
    bot.refresh_from_db()
    assert bot.risk_block == ""


@pytest.mark.django_db
def test_max_exposure_stops_entries_and_max_position_caps_size(user, django_capture_on_commit_callbacks):
    client = client_for(user)
    first, second = _bot(user, "First", capital="50000"), _bot(user, "Second", capital="50000")
    client.put("/api/config/risk", {"max_position_pct": 5, "max_exposure": 2000}, format="json")
    with django_capture_on_commit_callbacks(execute=True):  # the fill drops the cached exposure when it commits
        assert engine.tick_bot(first.pk, scaled(BUY, 12000)) == "traded"
    order = Order.objects.get(bot=first)
    assert Decimal("2400") < order.filled * order.average < Decimal("2530")  # 5 % of 50,000, not the 20 % of balanced
    assert engine.tick_bot(second.pk, scaled(BUY, 12000)) == "ok"  # exposure 2,500 >= 2,000
    second.refresh_from_db()
    assert "Maximum exposure reached" in second.risk_block and not Order.objects.filter(bot=second).exists()


def _losing_trade(user, profit):
    """A closed position with a realised loss today, booked by trading.services.record_fill (the real fill path)."""
    from trading.services import record_fill

    buy = Order.objects.create(
        user=user, exchange="luno", symbol="BTC/ZAR", side="buy", type="market", amount="0.01", client_order_id="loss-b"
    )
    record_fill(buy, Decimal("0.01"), Decimal("100000"), Decimal("0"), "ZAR")
    sell = Order.objects.create(
        user=user,
        exchange="luno",
        symbol="BTC/ZAR",
        side="sell",
        type="market",
        amount="0.01",
        client_order_id="loss-s",
    )
    return record_fill(sell, Decimal("0.01"), Decimal("100000") + profit / Decimal("0.01"), Decimal("0"), "ZAR")


# ------------------------------------------------------------------ order_update transitions, SSE


@pytest.mark.django_db(transaction=True)
def test_order_update_carries_status_transitions(user, other_user):
    client = client_for(user)

    async def scenario():
        from channels.db import database_sync_to_async

        comm = await ws_connect(token=token_for(user))
        theirs = await ws_connect(token=token_for(other_user))
        order = (await database_sync_to_async(client.post)("/api/orders", RESTING_BUY, format="json")).json()["order"]
        placed = await _receive_type(comm, "order_update")
        await database_sync_to_async(client.post)(f"/api/orders/{order['id']}/cancel")
        canceled = await _receive_type(comm, "order_update")
        assert await theirs.receive_nothing(0.5)
        return order, placed, canceled

    order, placed, canceled = run(scenario)
    assert (placed["order_id"], placed["previous_status"], placed["status"]) == (order["id"], None, "open")
    assert (canceled["previous_status"], canceled["status"]) == ("open", "canceled")
    assert canceled["order"]["id"] == order["id"]


@pytest.mark.django_db(transaction=True)
def test_sse_carries_config_and_system_status(user, other_user, admin_user):
    from tests.realtime.conftest import SSEStream

    client, admin = client_for(user), client_for(admin_user)

    async def scenario():
        from channels.db import database_sync_to_async

        stream = await SSEStream(query=f"token={token_for(user)}").start()
        theirs = await SSEStream(query=f"token={token_for(other_user)}").start()
        await stream.events_until("overview_update")
        await theirs.events_until("overview_update")
        await database_sync_to_async(client.put)("/api/config/risk", {"max_exposure": 5000}, format="json")
        config = (await stream.events_until("config_update"))[-1]
        await database_sync_to_async(admin.post)("/api/system/stop", {}, format="json")
        system = (await stream.events_until("system_status"))[-1]
        # The other user's stream saw the platform's event, never this user's configuration.
        seen = [e["event"] for e in await theirs.events_until("system_status")]
        await stream.close()
        await theirs.close()
        return config, system, seen

    config, system, seen = run(scenario)
    assert config["data"]["section"] == "risk" and config["data"]["values"]["max_exposure"] == 5000.0
    assert system["data"]["status"] == "stopped" and "changed_by" not in system["data"]
    assert "config_update" not in seen
