"""OpenAlgo through the whole platform, against the fake gateway: a live manual order above the freeze quantity is one
order with its child orders (API and events), a short margin refuses it with nothing sent, and the end-to-end path:
store keys -> test them -> live bot -> the bot's order reaches the gateway exactly once -> trade and P&L over the
WebSocket."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from accounts.models import User
from bots import engine
from bots.models import Bot
from tests.bots.test_engine import BUY, SELL, scaled
from tests.fake_openalgo.fixtures import fake_openalgo  # noqa: F401
from tests.fake_openalgo.server import BROKER, DEFAULT_KEY
from tests.helpers import assert_error, client_for
from tests.realtime.conftest import run, token_for, ws_connect, ws_receive
from trading.models import Order, Trade

pytestmark = pytest.mark.django_db(transaction=True)


def live_client(user, fake):
    """The user's keys for the fake gateway stored and tested, the user in live trading."""
    client = client_for(user)
    body = {"provider": "openalgo", "api_key": DEFAULT_KEY, "host_url": fake.url, "label": "my gateway"}
    response = client.post("/api/keys", body, format="json")
    assert response.status_code == 201, response.json()
    key = response.json()["key"]
    assert key["settings"] == {"host_url": fake.url} and DEFAULT_KEY not in response.content.decode()
    tested = client.post("/api/keys/test", {"credential_id": key["id"]}, format="json")
    assert tested.status_code == 200, tested.json()
    assert tested.json()["account"] == f"OpenAlgo gateway, broker {BROKER}"  # ping names the broker behind it
    assert tested.json()["permissions"] == {"read": True, "trade": True, "withdraw": False}
    assert fake.count("ping") == 1
    User.objects.filter(pk=user.pk).update(system_mode="live_trading", two_factor_enabled=True)
    return client_for(User.objects.get(pk=user.pk))


def test_split_order_is_one_order_with_children(user, fake_openalgo):
    fake_openalgo.cash = Decimal("5000000")
    client = live_client(user, fake_openalgo)
    order = {"exchange": "openalgo", "symbol": "RELIANCE/INR", "side": "buy", "type": "market", "amount": "1200"}
    response = client.post("/api/orders", order, format="json")
    assert response.status_code == 201, response.json()
    parent = response.json()["order"]
    assert parent["status"] == "closed" and parent["filled"] == 1200 and parent["is_paper"] is False
    assert fake_openalgo.count("splitorder") == 1 and fake_openalgo.count("placeorder") == 0
    detail = client.get(f"/api/orders/{parent['id']}").json()["order"]
    assert [c["amount"] for c in detail["children"]] == [500, 500, 200]
    assert {c["parent_id"] for c in detail["children"]} == {parent["id"]}
    assert all(c["status"] == "closed" for c in detail["children"])
    children = Order.objects.filter(parent_id=parent["id"])
    assert sorted(children.values_list("exchange_order_id", flat=True)) == sorted(str(o) for o in fake_openalgo.orders)
    assert Trade.objects.filter(order__parent_id=parent["id"]).count() == 3


def test_short_margin_refuses_the_order(user, fake_openalgo):
    client = live_client(user, fake_openalgo)
    order = {"exchange": "openalgo", "symbol": "TCS/INR", "side": "buy", "type": "market", "amount": "1000"}
    body = assert_error(client.post("/api/orders", order, format="json"), 400, "INSUFFICIENT_FUNDS")
    assert "margin" in body["error"]
    assert fake_openalgo.count("placeorder") == 0 and Order.objects.count() == 0


def test_live_bot_end_to_end(user, fake_openalgo):
    client = live_client(user, fake_openalgo)
    stored = client.get("/api/keys").json()["keys"][0]
    assert stored["keys_valid"] is True and stored["permissions"]["withdraw"] is False
    health = client.get("/api/platforms/health").json()["platforms"]["openalgo"]  # a ping of the user's own gateway
    assert health["status"] == "operational" and health["api_latency_ms"] is not None
    assert fake_openalgo.count("ping") == 2
    balances = client.get("/api/wallet/balances").json()["balances"]["openalgo"]
    assert balances["INR"] == 1000000
    bot = {
        "name": "Nifty",
        "exchange": "openalgo",
        "symbol": "RELIANCE/INR",
        "trading_mode": "live",
        "initial_capital": 30000,
        "strategy": "momentum",
    }
    response = client.post("/api/bots", bot, format="json")
    assert response.status_code == 201, response.json()
    bot_id = response.json()["bot"]["id"]

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        assert await sync_to_async(engine.tick_bot)(bot_id, scaled(BUY, 29)) == "traded"
        seen = []
        while not any(m["type"] == "trade_executed" for m in seen):
            seen.append(await ws_receive(comm, timeout=5))
        trade = next(m for m in seen if m["type"] == "trade_executed")["trade"]
        assert trade["side"] == "buy" and trade["symbol"] == "RELIANCE/INR" and trade["price"] == 2900
        fake_openalgo.set_price("RELIANCE", 3000)
        assert await sync_to_async(engine.tick_bot)(bot_id, scaled(SELL, 30)) == "traded"
        sold = pnl = None
        while sold is None or pnl is None:  # the sell's trade, then the bot's P&L after it
            message = await ws_receive(comm, timeout=5)
            if message["type"] == "trade_executed" and message["trade"]["side"] == "sell":
                sold = message["trade"]
            elif message["type"] == "pnl_update" and sold is not None:
                pnl = message
        assert sold["price"] == 3000 and sold["profit"] > 0
        assert pnl["bot_id"] == bot_id and pnl["total_profit"] == pytest.approx(sold["profit"])
        await comm.disconnect()
        return trade, sold

    bought, sold = run(scenario)
    placed = [body for name, body in fake_openalgo.requests if name == "placeorder"]
    assert [(b["action"], b["product"], b["quantity"]) for b in placed] == [
        ("BUY", "CNC", str(int(bought["amount"]))),
        ("SELL", "CNC", str(int(bought["amount"]))),
    ]  # each of the bot's orders reached the gateway exactly once
    assert sold["profit"] == pytest.approx((3000 - 2900) * bought["amount"])
    assert Bot.objects.get(pk=bot_id).total_profit == Decimal(str(sold["profit"]))


def test_live_bots_tick_on_their_owners_gateway_and_keyless_data_needs_the_operators(user, fake_openalgo, settings):
    """The scheduler's path (tick_group): a live OpenAlgo bot decides on candles from its owner's own gateway (no
    other user's, nor the operator's); keyless live market data (valuation, charts) needs the operator's gateway and
    says so without it."""
    from trading.exchanges import market_data

    client = live_client(user, fake_openalgo)
    bot = {"name": "Flat", "exchange": "openalgo", "trading_mode": "live", "initial_capital": 10000}
    bot_id = client.post("/api/bots", {**bot, "strategy": "momentum"}, format="json").json()["bot"]["id"]
    settings.OPENALGO_DATA_HOST_URL = ""
    assert engine.tick_group("openalgo", "RELIANCE/INR", "1m", [bot_id]) == {"ok": 1}  # flat candles: no signal
    assert any(name == "history" for name, _ in fake_openalgo.requests)
    with pytest.raises(Exception, match="OPENALGO_DATA_HOST_URL"):
        market_data("openalgo", "live").fetch_ohlcv("RELIANCE/INR", "1m", 10)
