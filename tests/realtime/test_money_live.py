"""Live money over the WebSocket: a fill sends the bot's pnl_update (as before, now with ``scope: "bot"`` and its
currency), the account-level pnl_update (the seed's shape, in the base currency) and an overview_update whose figures
are converted, never summed across currencies."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from bots import engine
from bots.selectors import account_pnl
from bots.services import create_bot
from tests.bots.test_engine import BUY, scaled
from tests.money.fixtures import fixed_prices  # noqa: F401
from tests.realtime.conftest import run, token_for, ws_connect, ws_receive
from trading.models import Position

pytestmark = pytest.mark.django_db(transaction=True)


async def until(comm, wanted, limit=20):
    """Messages up to the first that ``wanted(msg)`` accepts."""
    seen = []
    for _ in range(limit):
        msg = await ws_receive(comm, timeout=5)
        seen.append(msg)
        if wanted(msg):
            return msg, seen
    raise AssertionError(f"not received; got {[m['type'] for m in seen]}")


def test_a_fill_updates_pnl_and_overview_live_in_the_base_currency(user, fixed_prices):
    rand = create_bot(user, name="Rand", exchange="luno", initial_capital=Decimal("20000"))
    tether = create_bot(user, name="Tether", exchange="binance", initial_capital=Decimal("5000"))

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        assert await sync_to_async(engine.tick_bot)(tether.pk, scaled(BUY, 900)) == "traded"
        bot_pnl, _ = await until(comm, lambda m: m["type"] == "pnl_update" and m.get("scope") == "bot")
        # The per-bot message keeps the fields existing clients read.
        assert bot_pnl["bot_id"] == str(tether.pk) and bot_pnl["currency"] == "USDT"
        assert {"total_profit", "current_capital", "profit_percentage"} <= set(bot_pnl)
        account, _ = await until(comm, lambda m: m["type"] == "pnl_update" and m.get("scope") == "account")
        overview, _ = await until(comm, lambda m: m["type"] == "overview_update")
        return account, overview

    account, overview = run(scenario)
    position = Position.objects.get(bot=tether, is_open=True)
    unrealised_usdt = (Decimal(100000) - position.entry_price) * position.amount - position.entry_fee
    assert account["currency"] == "ZAR" and account["rates"]["USDT"] == 18.0
    assert account["open_positions"] == 1 and account["daily_pnl"] == 0.0
    assert account["unrealised_pnl"] == pytest.approx(float(unrealised_usdt * 18), abs=0.01)
    assert account["total_pnl"] == account["unrealised_pnl"] + account["realised_pnl"]
    assert account["breakdown"]["USDT"]["unrealised_pnl"] == pytest.approx(float(unrealised_usdt), abs=1e-6)
    assert overview["total_capital"] == 20000 + 5000 * 18 and overview["currency"] == "ZAR"
    assert overview["unrealised_pnl"] == account["unrealised_pnl"] and overview["open_positions"] == 1
    assert overview["active_bots"] == 1 and overview["total_bots"] == 2  # the Binance bot's first tick
    assert rand.pk  # never ticked: still counted in the capital
    fresh = account_pnl(user.pk)
    assert fresh["total_pnl"] == account["total_pnl"] and fresh["scope"] == "account"


def test_sse_carries_the_account_pnl_update(user):
    from tests.realtime.conftest import SSEStream, publish

    payload = {"scope": "account", "total_pnl": 12.5, "daily_pnl": 2.0, "open_positions": 3, "currency": "ZAR"}

    async def scenario():
        stream = await SSEStream(headers={"Authorization": f"Bearer {token_for(user)}"}).start()
        first = await stream.event()
        assert first["event"] == "overview_update" and first["data"]["currency"] == "ZAR"
        await publish(user.pk, "pnl_update", payload)
        pnl = await stream.event()
        await stream.close()
        return pnl

    pnl = run(scenario)
    assert pnl["event"] == "pnl_update" and pnl["data"].pop("timestamp").endswith("Z")
    assert pnl["data"] == {"type": "pnl", **payload}  # the seed's shape: type, total_pnl, daily_pnl, open_positions
