"""``signal`` events: a decision the engine records reaches its owner's WebSocket and SSE stream (the admins' socket
too, as every event), never another user's."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from tests.bots.test_engine import BUY, scaled
from tests.realtime.conftest import SSEStream, run, token_for, ws_connect, ws_receive

pytestmark = pytest.mark.django_db(transaction=True)


def _tick_a_buy(user):
    """A real engine tick that makes and records a buy decision (published on commit)."""
    from bots import engine
    from bots.models import StrategySignal
    from bots.services import create_bot

    bot = create_bot(user, name="Signaller", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "traded"
    return StrategySignal.objects.get(bot=bot)


def test_websocket_signal_messages_are_per_user(user, other_user, admin_user):
    async def scenario():
        mine = await ws_connect(token=token_for(user))
        theirs = await ws_connect(token=token_for(other_user))
        admin = await ws_connect(token=token_for(admin_user))
        signal = await sync_to_async(_tick_a_buy)(user)
        messages = []
        while len(messages) < 20 and not any(m["type"] == "signal" for m in messages):
            messages.append(await ws_receive(mine))
        message = messages[-1]
        assert message["type"] == "signal", [m["type"] for m in messages]
        assert message["id"] == str(signal.pk) and message["symbol"] == "BTC/ZAR" and message["signal"] == "BUY"
        for key in ("entry_price", "target", "stop_loss", "confidence", "reason", "strategy", "bot_id", "timestamp"):
            assert key in message
        assert message["confidence"] == float(signal.confidence) and message["outcome"] == "traded"
        admin_types = []
        while len(admin_types) < 20 and "signal" not in admin_types:
            admin_types.append((await ws_receive(admin))["type"])
        assert "signal" in admin_types
        assert await theirs.receive_nothing(0.3)  # nothing of the other user's bot, nor its signal
        assert await mine.receive_nothing(0.3)  # and the signal came once

    run(scenario)


def test_sse_signal_events_are_per_user(user, other_user):
    async def scenario():
        mine = await SSEStream(query=f"token={token_for(user)}").start()
        theirs = await SSEStream(query=f"token={token_for(other_user)}").start()
        for stream in (mine, theirs):
            await stream.event()  # overview_update at connect
        signal = await sync_to_async(_tick_a_buy)(user)
        seen = await mine.events_until("signal")
        event = seen[-1]
        assert event["data"]["type"] == "signal" and event["data"]["id"] == str(signal.pk)
        assert event["data"]["signal"] == "BUY" and int(event["id"]) > 0
        await theirs.no_event(0.3)
        await mine.close()
        await theirs.close()

    run(scenario)
