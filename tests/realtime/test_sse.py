"""SSE GET /api/realtime/events through the real ASGI app (the Channels AsyncHttpConsumer Daphne serves)."""

import json
from decimal import Decimal

import pytest
from django.test import override_settings

from realtime import events
from realtime.metrics import SSE_CONNECTIONS
from tests.realtime.conftest import SSEStream, publish, run, token_for

pytestmark = pytest.mark.django_db(transaction=True)

TRADE = {
    "id": "t1",
    "bot_id": None,
    "exchange": "luno",
    "symbol": "BTC/ZAR",
    "side": "buy",
    "amount": 0.001,
    "price": 50000.0,
    "profit_loss": 0.0,
    "profit": 0.0,
    "timestamp": "2024-01-01T00:00:00Z",
}


def _bots(user):
    from bots.models import Bot

    Bot.objects.create(
        user=user,
        name="A",
        exchange="luno",
        symbol="BTC/ZAR",
        status="active",
        initial_capital=Decimal("1000"),
        current_capital=Decimal("1050.25"),
        total_profit=Decimal("50.25"),
    )
    Bot.objects.create(
        user=user,
        name="B",
        exchange="luno",
        symbol="ETH/ZAR",
        status="paused",
        initial_capital=Decimal("500"),
        current_capital=Decimal("490"),
        total_profit=Decimal("-10"),
    )


def _assert_error(body, code):
    data = json.loads(body)
    assert set(data) == {"success", "error", "error_code", "timestamp"}
    assert data["success"] is False and data["error_code"] == code and data["timestamp"].endswith("Z") and data["error"]


def test_auth_failures_are_401_in_the_error_schema(user):
    async def scenario():
        stream = await SSEStream().start()
        assert stream.status == 401 and stream.headers["content-type"] == "application/json"
        _assert_error(await stream.body(), "AUTH_REQUIRED")
        for kwargs in (
            {"query": "token=garbage"},
            {"headers": {"Authorization": "Bearer garbage"}},
            {"headers": {"Authorization": "Basic abc"}},
            {"query": "token=amk_unknown"},
        ):
            stream = await SSEStream(**kwargs).start()
            assert stream.status == 401
            _assert_error(await stream.body(), "AUTH_INVALID")
        stream = await SSEStream(method="POST", headers={"Authorization": f"Bearer {token_for(user)}"}).start()
        assert stream.status == 405
        _assert_error(await stream.body(), "METHOD_NOT_ALLOWED")

    run(scenario)


def test_headers_and_overview_at_connect(user, other_user):
    _bots(user)
    _bots(other_user)  # never counted in user's overview

    async def scenario():
        stream = await SSEStream(headers={"Authorization": f"Bearer {token_for(user)}"}).start()
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-accel-buffering"] == "no"
        first = await stream.event()
        assert first["event"] == "overview_update" and first["id"] == "0"
        data = first["data"]
        assert data.pop("timestamp").endswith("Z")
        figures = ("type", "active_bots", "total_bots", "total_profit", "total_capital", "currency", "unpriced")
        assert {k: data[k] for k in figures} == {
            "type": "overview",
            "active_bots": 1,
            "total_bots": 2,
            "total_profit": 40.25,
            "total_capital": 1540.25,
            "currency": "ZAR",
            "unpriced": {},
        }
        await stream.close()

    run(scenario)


def test_query_token_for_eventsource(user):
    async def scenario():
        stream = await SSEStream(query=f"token={token_for(user)}").start()
        assert stream.status == 200
        assert (await stream.event())["event"] == "overview_update"
        await stream.close()

    run(scenario)


@override_settings(SSE_HEARTBEAT_SECONDS=0.05)
def test_heartbeat_counts_up(user):
    async def scenario():
        stream = await SSEStream(query=f"token={token_for(user)}").start()
        await stream.event()  # overview
        beats = [await stream.event(2) for _ in range(3)]
        assert [b["event"] for b in beats] == ["heartbeat"] * 3
        assert [b["data"]["counter"] for b in beats] == [1, 2, 3]
        assert all(set(b["data"]) == {"timestamp", "counter"} and b["data"]["timestamp"].endswith("Z") for b in beats)
        assert all(b["id"] == "0" for b in beats)
        await stream.close()

    run(scenario)


def test_events_are_translated_with_increasing_ids(user):
    _bots(user)

    async def scenario():
        stream = await SSEStream(query=f"token={token_for(user)}").start()
        await stream.event()
        await publish(user.pk, "bot_update", {"bot_id": "b", "status": "paused", "data": {}})
        bot = await stream.event()
        assert bot["event"] == "bot_update" and bot["id"] == "1"
        assert bot["data"].pop("timestamp").endswith("Z")
        assert bot["data"] == {"type": "bot_count_changed", "total_bots": 2}
        overview = await stream.event()
        assert overview["event"] == "overview_update" and overview["data"]["total_bots"] == 2

        await publish(user.pk, "trade_executed", {"trade": TRADE})
        trade = await stream.event()
        assert trade["event"] == "trade_update" and trade["id"] == "2"
        assert trade["data"].pop("timestamp").endswith("Z")
        assert trade["data"] == {"type": "recent_trades", "trades": [TRADE], "count": 1}

        await publish(user.pk, "trade_update", {"trades": [TRADE, {**TRADE, "id": "t2"}]})
        batch = await stream.event()
        assert (
            batch["id"] == "3"
            and batch["data"]["count"] == 2
            and [t["id"] for t in batch["data"]["trades"]] == ["t1", "t2"]
        )

        counts = {"active_bots": 3, "total_bots": 4, "total_profit": 1.5, "total_capital": 10.0}
        await publish(user.pk, "overview_update", counts)
        ov = await stream.event()
        assert ov["event"] == "overview_update" and ov["id"] == "4"
        assert {k: ov["data"][k] for k in counts} == counts and ov["data"]["type"] == "overview"

        await publish(
            user.pk, "pnl_update", {"bot_id": "b", "total_profit": 1, "current_capital": 2, "profit_percentage": 3}
        )
        ov = await stream.event()
        assert ov["event"] == "overview_update" and ov["id"] == "5" and ov["data"]["total_profit"] == 40.25

        await publish(user.pk, "alert", {"level": "info", "message": "WebSocket only"})
        await stream.no_event(0.2)
        await stream.close()

    run(scenario)


def test_streams_are_per_user(user, other_user, admin_user):
    async def scenario():
        a = await SSEStream(query=f"token={token_for(user)}").start()
        b = await SSEStream(query=f"token={token_for(other_user)}").start()
        for stream in (a, b):
            await stream.event()
        await publish(other_user.pk, "trade_executed", {"trade": {**TRADE, "id": "b-trade"}})
        got = await b.event()
        assert got["data"]["trades"][0]["id"] == "b-trade"
        await a.no_event(0.3)
        await a.close()
        await b.close()

    run(scenario)


def test_last_event_id_resumes_missed_events(user):
    async def scenario():
        for n in range(1, 4):
            await publish(user.pk, "trade_executed", {"trade": {**TRADE, "id": f"t{n}"}})
        # Header form: everything after event 1, then the connect overview, then live events, no duplicates.
        stream = await SSEStream(headers={"Authorization": f"Bearer {token_for(user)}", "Last-Event-ID": "1"}).start()
        replay = [await stream.event() for _ in range(3)]
        assert [(e["event"], e["id"]) for e in replay] == [
            ("trade_update", "2"),
            ("trade_update", "3"),
            ("overview_update", "3"),
        ]
        assert [e["data"]["trades"][0]["id"] for e in replay[:2]] == ["t2", "t3"]
        await publish(user.pk, "trade_executed", {"trade": {**TRADE, "id": "t4"}})
        live = await stream.event()
        assert live["id"] == "4" and live["data"]["trades"][0]["id"] == "t4"
        await stream.no_event(0.2)
        await stream.close()

        # Query form (?last_event_id=) for clients that cannot set headers; up to date -> only the overview.
        stream = await SSEStream(query=f"token={token_for(user)}&last_event_id=2").start()
        assert [(await stream.event())["id"] for _ in range(3)] == ["3", "4", "4"]
        await stream.close()
        stream = await SSEStream(query=f"token={token_for(user)}&last_event_id=4").start()
        first = await stream.event()
        assert first["event"] == "overview_update" and first["id"] == "4"
        await stream.no_event(0.2)
        await stream.close()

    run(scenario)


def test_replay_buffer_is_bounded_and_per_user(user, other_user):
    from asgiref.sync import sync_to_async

    async def scenario():
        total = events.REPLAY_BUFFER_SIZE + 5
        for n in range(total):
            await publish(user.pk, "alert", {"level": "info", "message": str(n)})
        await publish(other_user.pk, "alert", {"level": "info", "message": "other"})
        missed = await sync_to_async(events.events_since)(user.pk, 0)
        assert len(missed) == events.REPLAY_BUFFER_SIZE
        assert [m["id"] for m in missed] == list(range(6, total + 1))
        assert all(m["user_id"] == str(user.pk) for m in missed)
        assert await sync_to_async(events.events_since)(user.pk, "nonsense") == []
        assert await sync_to_async(events.last_event_id)(other_user.pk) == 1

    run(scenario)


def test_connection_gauge_and_disconnect_cleanup(user):
    async def scenario():
        before = SSE_CONNECTIONS._value.get()
        stream = await SSEStream(query=f"token={token_for(user)}").start()
        await stream.event()
        assert SSE_CONNECTIONS._value.get() == before + 1
        await stream.close()
        assert SSE_CONNECTIONS._value.get() == before
        # After the disconnect the consumer left the group: publishing finds nobody and breaks nothing.
        await publish(user.pk, "trade_executed", {"trade": TRADE})

    run(scenario)
