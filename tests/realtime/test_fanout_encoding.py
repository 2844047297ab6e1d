"""Events are encoded for the WebSocket once, by the publisher: the hub message carries the text every socket sends,
the replay buffer keeps the message without it, and send_many sends a batch in one go."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async

from realtime import events, hub, translate


async def _follow_and_send(items, routes, n):
    """A hub Sink following ``routes`` collects the first ``n`` messages that send_many(items), run from a thread as
    publishers call it, hands it."""
    got, done = [], asyncio.Event()

    async def collect(message):
        got.append(message)
        if len(got) >= n:
            done.set()

    sink = hub.Sink(collect, kind=hub.EVENTS)
    await hub.follow(sink, routes)
    try:
        await sync_to_async(events.send_many)(items)
        await asyncio.wait_for(done.wait(), 10)
        await asyncio.sleep(0.1)  # nothing more than n
        return got
    finally:
        hub.unfollow(sink)


def test_send_many_carries_the_encoded_ws_text_once_per_event(settings):
    # In a thread of its own: a fresh event loop, whatever an earlier test of the session left running.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(_send_many_scenario).result(timeout=30)


def _send_many_scenario():
    trade = {"id": "t1", "symbol": "BTC/ZAR", "profit_loss": 1.5}
    items = [
        ("u-enc-1", events.TRADE_EXECUTED, {"trade": trade}),
        ("u-enc-2", events.ALERT, {"level": "info", "message": "hi"}),
    ]
    routes = [events.user_group("u-enc-1"), events.user_group("u-enc-2"), events.ADMIN_GROUP]
    first, second = asyncio.run(_follow_and_send(items, routes, 2))  # a sink on 3 routes gets each event once
    assert first["routes"] == [events.user_group("u-enc-1"), events.ADMIN_GROUP]
    assert (
        json.loads(first["ws"])
        == translate.ws_message(first)
        == {
            "type": "trade_executed",
            "trade": {**trade, "profit": 1.5},
        }
    )
    assert first["ws"] == json.dumps(translate.ws_message(first), separators=(",", ":"))
    assert json.loads(second["ws"])["type"] == "alert"
    # The replay buffer has the event under its sequence number, without the WebSocket text.
    replay = events.events_since("u-enc-1", first["id"] - 1)
    assert replay and replay[-1]["id"] == first["id"] and "ws" not in replay[-1]


def test_an_event_without_websocket_form_carries_none():
    message = events.build_message("u", events.BOT_UPDATE, {"bot_id": "b", "status": "active"})
    assert json.loads(events.encode_ws(message))["type"] == "bot_update"
    assert events.encode_ws({"event": "nothing", "payload": {}}) is None


def test_unknown_event_types_are_refused():
    import pytest

    with pytest.raises(ValueError):
        events.send_many([("u", "no_such_event", {})])
