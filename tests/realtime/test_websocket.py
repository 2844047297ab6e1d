"""WebSocket /api/ws through the real ASGI app:
auth (close 4401), ping/pong, every message shape, per-user isolation."""

import json
from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from realtime.metrics import WS_CONNECTIONS
from tests.realtime.conftest import publish, run, token_for, ws_connect, ws_receive

pytestmark = pytest.mark.django_db(transaction=True)


async def _expect_4401(comm):
    message = await comm.receive_output(3)
    assert message == {"type": "websocket.close", "code": 4401}


def test_missing_token_closes_4401(db):
    async def scenario():
        await _expect_4401(await ws_connect())

    run(scenario)


@pytest.mark.parametrize("token", ["garbage", "eyJhbGciOiJIUzI1NiJ9.e30.bad", "amk_notarealkey"])
def test_invalid_token_closes_4401(db, token):
    async def scenario():
        await _expect_4401(await ws_connect(token=token))

    run(scenario)


def test_expired_and_tampered_jwt_close_4401(user):
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(minutes=1))
    good = token_for(user)
    tampered = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")

    async def scenario():
        await _expect_4401(await ws_connect(token=str(expired)))
        await _expect_4401(await ws_connect(token=tampered))

    run(scenario)


def test_inactive_user_closes_4401(user):
    token = token_for(user)
    user.is_active = False
    user.save()

    async def scenario():
        await _expect_4401(await ws_connect(token=token))

    run(scenario)


def test_ping_pong_with_query_token(user):
    async def scenario():
        comm = await ws_connect(token=token_for(user))
        await comm.send_to(text_data=json.dumps({"type": "ping", "timestamp": "2024-01-01T00:00:00Z"}))
        pong = await ws_receive(comm)
        assert set(pong) == {"type", "timestamp"} and pong["type"] == "pong" and pong["timestamp"].endswith("Z")
        await comm.disconnect()

    run(scenario)


def test_bearer_header_and_api_key(user):
    from accounts.models import ApiKey

    _key, raw = ApiKey.generate(user, "ws key")

    async def scenario():
        for credential in (token_for(user), raw):
            comm = await ws_connect(headers=[(b"authorization", f"Bearer {credential}".encode())])
            await comm.send_json_to({"type": "ping"})
            assert (await ws_receive(comm))["type"] == "pong"
            await comm.disconnect()
        comm = await ws_connect(token=raw)
        await comm.send_json_to({"type": "ping"})
        assert (await ws_receive(comm))["type"] == "pong"
        await comm.disconnect()

    run(scenario)


def test_bad_messages_get_an_error_and_keep_the_socket(user):
    async def scenario():
        comm = await ws_connect(token=token_for(user))
        await comm.send_to(text_data="not json{")
        error = await ws_receive(comm)
        assert error["type"] == "error" and error["error_code"] == "VALIDATION_ERROR"
        await comm.send_json_to({"type": "subscribe-everything"})
        error = await ws_receive(comm)
        assert error["type"] == "error" and error["error_code"] == "VALIDATION_ERROR"
        await comm.send_json_to(["ping"])
        assert (await ws_receive(comm))["type"] == "error"
        await comm.send_json_to({"type": "ping"})
        assert (await ws_receive(comm))["type"] == "pong"
        await comm.disconnect()

    run(scenario)


def test_every_event_shape(user):
    bot_id = "7f1c0b1e-0000-4000-8000-000000000001"
    trade = {
        "id": "t1",
        "bot_id": bot_id,
        "exchange": "luno",
        "symbol": "BTC/ZAR",
        "side": "buy",
        "amount": 0.001,
        "price": 50000.0,
        "profit_loss": 5.0,
        "profit": 5.0,
        "timestamp": "2024-01-01T00:00:00Z",
    }
    order = {"id": "o1", "symbol": "BTC/ZAR", "side": "buy", "status": "closed"}

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        await publish(
            user.pk, "bot_update", {"bot_id": bot_id, "status": "paused", "data": {"id": bot_id, "name": "A"}}
        )
        assert await ws_receive(comm) == {
            "type": "bot_update",
            "bot_id": bot_id,
            "status": "paused",
            "data": {"id": bot_id, "name": "A"},
        }
        await publish(user.pk, "trade_executed", {"trade": trade})
        msg = await ws_receive(comm)
        assert set(msg) == {"type", "trade"} and msg["type"] == "trade_executed" and msg["trade"] == trade
        assert {"id", "bot_id", "symbol", "side", "profit"} <= set(msg["trade"])
        await publish(user.pk, "alert", {"level": "warning", "message": "Bot Alpha paused", "bot_id": bot_id})
        assert await ws_receive(comm) == {"type": "alert", "level": "warning", "message": "Bot Alpha paused"}
        await publish(user.pk, "order_update", {"order": order})
        assert await ws_receive(comm) == {
            "type": "order_update",
            "order": order,
            "order_id": order["id"],
            "status": order["status"],
            "previous_status": None,
        }
        pnl = {"bot_id": bot_id, "total_profit": 5.0, "current_capital": 1005.0, "profit_percentage": 0.5}
        await publish(user.pk, "pnl_update", pnl)
        assert await ws_receive(comm) == {"type": "pnl_update", **pnl}
        overview = {"active_bots": 1, "total_bots": 2, "total_profit": 5.0, "total_capital": 2005.0}
        await publish(user.pk, "overview_update", overview)
        msg = await ws_receive(comm)
        assert msg.pop("timestamp").endswith("Z") and msg == {"type": "overview_update", **overview}
        assert await comm.receive_nothing(0.1)
        await comm.disconnect()

    run(scenario)


def test_trade_without_profit_key_gets_profit_from_profit_loss(user):
    async def scenario():
        comm = await ws_connect(token=token_for(user))
        await publish(
            user.pk,
            "trade_executed",
            {"trade": {"id": "t", "bot_id": None, "symbol": "BTC/ZAR", "side": "sell", "profit_loss": -2.5}},
        )
        assert (await ws_receive(comm))["trade"]["profit"] == -2.5
        await comm.disconnect()

    run(scenario)


def test_users_only_see_their_own_events_admin_sees_all_once(user, other_user, admin_user):
    async def scenario():
        a = await ws_connect(token=token_for(user))
        b = await ws_connect(token=token_for(other_user))
        admin = await ws_connect(token=token_for(admin_user))
        await publish(user.pk, "alert", {"level": "info", "message": "for A"})
        await publish(other_user.pk, "alert", {"level": "info", "message": "for B"})
        await publish(admin_user.pk, "alert", {"level": "info", "message": "for admin"})
        assert (await ws_receive(a))["message"] == "for A"
        assert (await ws_receive(b))["message"] == "for B"
        got = [(await ws_receive(admin))["message"] for _ in range(3)]
        assert got == ["for A", "for B", "for admin"]
        for comm in (a, b, admin):
            assert await comm.receive_nothing(0.2)
            await comm.disconnect()

    run(scenario)


def test_no_event_before_commit(user):
    """publish() inside a transaction that rolls back never reaches a client."""
    from asgiref.sync import sync_to_async
    from django.db import transaction

    from realtime import events

    def rolled_back():
        try:
            with transaction.atomic():
                events.publish(user.pk, "alert", {"level": "info", "message": "never"})
                raise RuntimeError("rollback")
        except RuntimeError:
            pass

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        await sync_to_async(rolled_back)()
        assert await comm.receive_nothing(0.2)
        await publish(user.pk, "alert", {"level": "info", "message": "kept"})
        assert (await ws_receive(comm))["message"] == "kept"
        await comm.disconnect()

    run(scenario)


def test_connection_gauge(user):
    async def scenario():
        before = WS_CONNECTIONS._value.get()
        comm = await ws_connect(token=token_for(user))
        await comm.send_json_to({"type": "ping"})
        await ws_receive(comm)
        assert WS_CONNECTIONS._value.get() == before + 1
        await comm.disconnect()
        assert WS_CONNECTIONS._value.get() == before
        rejected = await ws_connect(token="bad")
        await _expect_4401(rejected)
        assert WS_CONNECTIONS._value.get() == before

    run(scenario)


def test_socket_closes_4401_when_the_jwt_expires(user):
    short = AccessToken.for_user(user)
    short.set_exp(lifetime=timedelta(seconds=2))

    async def scenario():
        comm = await ws_connect(token=str(short))
        await comm.send_json_to({"type": "ping"})
        assert (await ws_receive(comm))["type"] == "pong"
        assert await comm.receive_output(5) == {"type": "websocket.close", "code": 4401}

    run(scenario)


def test_socket_closes_at_once_when_the_jwt_expired_during_the_handshake(user, monkeypatch):
    """The token is checked, then its expiry read: if it expires in between, the socket closes now, never stays open."""
    from realtime import auth

    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=-5))  # already expired when the consumer reads its exp
    authenticate = auth.authenticate

    async def authenticate_as_if_still_valid(raw):
        return await authenticate(str(AccessToken.for_user(user)))

    monkeypatch.setattr(auth, "authenticate", authenticate_as_if_still_valid)

    async def scenario():
        comm = await ws_connect(token=str(token))
        assert await comm.receive_output(3) == {"type": "websocket.close", "code": 4401}

    run(scenario)
