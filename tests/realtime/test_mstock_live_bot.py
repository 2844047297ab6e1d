"""End to end on mStock (the real SDK against the fake mStock server): store keys through POST /api/keys, test them
(POST /api/keys/test: a TOTP login), create a live bot on RELIANCE/INR through POST /api/bots, let it tick: its order
reaches the broker exactly once, and the trade and its P&L arrive over the WebSocket."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from accounts.models import User
from bots import engine
from bots.models import Bot
from tests.bots.test_engine import BUY, scaled
from tests.fake_mstock.fixtures import fake_mstock, mstock_via_fake  # noqa: F401
from tests.fake_mstock.server import DEFAULT_CLIENT, DEFAULT_KEY, DEFAULT_SECRET, DEFAULT_TOTP_SECRET
from tests.helpers import client_for
from tests.realtime.conftest import run, token_for, ws_connect, ws_receive
from trading.models import Order, Position, Trade
from wallets.models import ExchangeCredential

pytestmark = pytest.mark.django_db(transaction=True)


async def until(comm, wanted, limit=30):
    seen = []
    for _ in range(limit):
        msg = await ws_receive(comm, timeout=5)
        seen.append(msg)
        if wanted(msg):
            return msg
    raise AssertionError(f"not received; got {[m['type'] for m in seen]}")


def test_keys_then_live_bot_order_reaches_mstock_once_and_the_trade_arrives_live(user, mstock_via_fake):
    client = client_for(user)
    keys = {
        "provider": "mstock",
        "api_key": DEFAULT_KEY,
        "api_secret": DEFAULT_SECRET,
        "client_code": DEFAULT_CLIENT,
        "totp_secret": DEFAULT_TOTP_SECRET,
        "label": "NSE account",
    }
    created = client.post("/api/keys", keys, format="json")
    assert created.status_code == 201, created.content
    key_id = created.json()["key"]["id"]
    tested = client.post("/api/keys/test", {"credential_id": key_id}, format="json")
    assert tested.status_code == 200, tested.content
    assert mstock_via_fake.logins == 1

    User.objects.filter(pk=user.pk).update(system_mode="live_trading", two_factor_enabled=True)
    live_client = client_for(User.objects.get(pk=user.pk))
    bot = {
        "name": "Reliance momentum",
        "exchange": "mstock",
        "symbol": "RELIANCE/INR",
        "trading_mode": "live",
        "initial_capital": 100000,
        "strategy": "momentum",
    }
    resp = live_client.post("/api/bots", bot, format="json")
    assert resp.status_code == 201, resp.content
    bot_id = resp.json()["bot"]["id"]
    candles = scaled(BUY, 25)  # RELIANCE around 2500 INR, a momentum buy on the last candle

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        assert await sync_to_async(engine.tick_bot)(bot_id, candles) == "traded"
        trade = await until(comm, lambda m: m["type"] == "trade_executed")
        pnl = await until(comm, lambda m: m["type"] == "pnl_update" and m.get("scope") == "bot")
        # the next tick on the same candle places nothing again
        assert await sync_to_async(engine.tick_bot)(bot_id, candles) == "ok"
        return trade, pnl

    trade_msg, pnl_msg = run(scenario)

    assert mstock_via_fake.count("POST", "orders/regular") == 1  # exactly once at the broker
    [row] = mstock_via_fake.orders.values()
    assert row["tradingsymbol"] == "RELIANCE" and row["product"] == "CNC" and row["transaction_type"] == "BUY"
    order = Order.objects.get(bot_id=bot_id)
    assert not order.is_paper and order.status == "closed" and order.exchange_order_id == row["order_id"]
    trade = Trade.objects.get(bot_id=bot_id)
    assert trade.price_source == "exchange" and trade.price == Decimal(2500) and trade.amount == row["quantity"]
    assert trade_msg["trade"]["bot_id"] == str(bot_id) and trade_msg["trade"]["exchange"] == "mstock"
    assert trade_msg["trade"]["symbol"] == "RELIANCE/INR" and trade_msg["trade"]["side"] == "buy"
    assert pnl_msg["bot_id"] == str(bot_id) and pnl_msg["currency"] == "INR"
    assert {"total_profit", "current_capital", "profit_percentage"} <= set(pnl_msg)
    assert Position.objects.get(bot_id=bot_id, is_open=True).amount == row["quantity"]
    assert Bot.objects.get(pk=bot_id).last_error == ""
    # the bot reused the session the key test stored; the broker saw one login only
    assert mstock_via_fake.logins == 1 and ExchangeCredential.objects.get(pk=key_id).session
