"""End to end over real sockets: Daphne in a subprocess, a real WebSocket client (`websockets`) and a real SSE client
(httpx streaming). A user registers through the API, places a paper market order through POST /api/orders, and both
feeds deliver the trade. Uses a temp SQLite file (and REDIS_URL's channels-redis when set)."""

import asyncio
import json
import os

import httpx
import pytest
import websockets

from tests import servers

pytestmark = pytest.mark.slow


def _run(coroutine):
    """asyncio.run in a fresh thread: another test (Playwright's sync API) may leave an event loop set on this one."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def daphne(tmp_path_factory):
    var = tmp_path_factory.mktemp("e2e-var")
    env = {"DATABASE_URL": f"sqlite:///{var / 'e2e.sqlite3'}", "SSE_HEARTBEAT_SECONDS": "1"}
    with servers.daphne(env) as base:
        yield base, int(base.rsplit(":", 1)[1])


async def _sse_events(response):
    """Yield parsed SSE events from an httpx streaming response."""
    block = []
    async for line in response.aiter_lines():
        if line == "":
            fields = dict(item.split(": ", 1) for item in block if ": " in item)
            block = []
            if "event" in fields:
                yield {"id": fields.get("id"), "event": fields["event"], "data": json.loads(fields["data"])}
        else:
            block.append(line)


def test_register_order_and_both_feeds_deliver(daphne):
    base, port = daphne

    async def scenario():
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            r = await http.post(
                "/api/auth/register",
                json={"email": "e2e@example.com", "password": "S3cure-pass-123", "first_name": "E2E"},
            )
            assert r.status_code == 200, r.text
            token = r.json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            health = await http.get("/api/health/components", headers=auth)
            assert health.status_code == 200 and health.json()["components"]["database"]["status"] == "ok"

            # Bad credentials: the socket is accepted, then closed with 4401.
            async with websockets.connect(f"ws://127.0.0.1:{port}/api/ws?token=bad") as bad:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(bad.recv(), 5)
                assert closed.value.rcvd.code == 4401
            assert (await http.get("/api/realtime/events")).status_code == 401

            async with (
                websockets.connect(f"ws://127.0.0.1:{port}/api/ws?token={token}") as ws,
                http.stream("GET", "/api/realtime/events", headers=auth, timeout=None) as sse,
            ):
                assert sse.status_code == 200 and sse.headers["content-type"].startswith("text/event-stream")
                assert sse.headers["x-accel-buffering"] == "no"
                events = _sse_events(sse)
                first = await asyncio.wait_for(events.__anext__(), 5)
                assert first["event"] == "overview_update" and first["data"]["type"] == "overview"
                beat = await asyncio.wait_for(events.__anext__(), 5)
                assert beat["event"] == "heartbeat" and beat["data"]["counter"] == 1

                await ws.send(json.dumps({"type": "ping"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"

                order = await http.post(
                    "/api/orders",
                    headers=auth,
                    json={"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": 0.001},
                )
                if order.status_code == 404 and order.json().get("error_code") == "NOT_FOUND":
                    pytest.skip("POST /api/orders is not available yet (trading engineer)")
                assert order.status_code in (200, 201), order.text

                async def ws_trade():
                    while True:
                        message = json.loads(await ws.recv())
                        if message["type"] == "trade_executed":
                            return message

                async def sse_trade():
                    async for event in events:
                        if event["event"] == "trade_update":
                            return event

                trade_msg, trade_event = await asyncio.wait_for(asyncio.gather(ws_trade(), sse_trade()), 10)
                trade = trade_msg["trade"]
                assert {"id", "bot_id", "symbol", "side", "profit"} <= set(trade)
                assert trade["symbol"] == "BTC/ZAR" and trade["side"] == "buy"
                assert trade_event["data"]["type"] == "recent_trades" and trade_event["data"]["count"] >= 1
                assert trade_event["data"]["trades"][0]["id"] == trade["id"]
                assert trade_event["id"] and int(trade_event["id"]) >= 1

            # /metrics is served by the same process and saw the connections.
            metrics = (await http.get("/metrics")).text
            assert "amarktai_events_published_total" in metrics and "amarktai_http_requests_total" in metrics

    _run(scenario())


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="cross-process delivery needs REDIS_URL (channels-redis)")
@pytest.mark.django_db(transaction=True)  # publish() runs on commit of this process's (test) database connection
def test_event_published_by_another_process_reaches_both_feeds(daphne):
    """Production topology: a worker process publishes, Daphne (another process) delivers over channels-redis; the SSE
    replay buffer in the shared cache lets a reconnecting client catch up."""
    from channels.db import database_sync_to_async

    from realtime import events

    publish = database_sync_to_async(events.publish)  # closes the worker thread's DB connection afterwards

    base, port = daphne

    async def scenario():
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            r = await http.post(
                "/api/auth/register",
                json={"email": "e2e-redis@example.com", "password": "S3cure-pass-123", "first_name": "R"},
            )
            assert r.status_code == 200, r.text
            token, user_id = r.json()["token"], r.json()["user"]["id"]
            auth = {"Authorization": f"Bearer {token}"}
            trade = {
                "id": "x-1",
                "bot_id": None,
                "exchange": "luno",
                "symbol": "BTC/ZAR",
                "side": "sell",
                "amount": 0.001,
                "price": 1.0,
                "profit_loss": 2.5,
                "profit": 2.5,
                "timestamp": "2024-01-01T00:00:00Z",
            }
            async with (
                websockets.connect(f"ws://127.0.0.1:{port}/api/ws?token={token}") as ws,
                http.stream("GET", "/api/realtime/events", headers=auth, timeout=None) as sse,
            ):
                events_iter = _sse_events(sse)
                assert (await asyncio.wait_for(events_iter.__anext__(), 5))["event"] == "overview_update"
                await ws.send(json.dumps({"type": "ping"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"  # joined its group
                await publish(user_id, "trade_executed", {"trade": trade})
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert message == {"type": "trade_executed", "trade": trade}
                while True:
                    event = await asyncio.wait_for(events_iter.__anext__(), 5)
                    if event["event"] == "trade_update":
                        break
                assert event["data"]["trades"] == [trade]
                seen_id = int(event["id"])
            # Missed while disconnected, then resumed with Last-Event-ID.
            await publish(user_id, "trade_executed", {"trade": {**trade, "id": "x-2"}})
            async with http.stream(
                "GET", "/api/realtime/events", timeout=None, headers={**auth, "Last-Event-ID": str(seen_id)}
            ) as sse:
                first = await asyncio.wait_for(_sse_events(sse).__anext__(), 5)
                assert first["event"] == "trade_update" and first["data"]["trades"][0]["id"] == "x-2"
                assert int(first["id"]) == seen_id + 1

    _run(scenario())
