"""Events are encoded for the WebSocket once, by the publisher: the channel-layer message carries the text every
socket sends, the replay buffer keeps the message without it, and send_many sends a batch in one go."""

import json
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from realtime import events, translate


def _receive_all(layer, channel, n):
    async def go():
        return [await layer.receive(channel) for _ in range(n)]

    return async_to_sync(go)()


def test_send_many_carries_the_encoded_ws_text_once_per_event(settings):
    # In a thread of its own: publishing bridges to async code, which refuses a thread where an earlier test of the
    # session left an event loop running.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(_send_many_scenario).result(timeout=30)


def _send_many_scenario():
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.user_group("u-enc-1"), channel)
    async_to_sync(layer.group_add)(events.user_group("u-enc-2"), channel)
    trade = {"id": "t1", "symbol": "BTC/ZAR", "profit_loss": 1.5}
    events.send_many(
        [
            ("u-enc-1", events.TRADE_EXECUTED, {"trade": trade}),
            ("u-enc-2", events.ALERT, {"level": "info", "message": "hi"}),
        ]
    )
    first, second = _receive_all(layer, channel, 2)
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
