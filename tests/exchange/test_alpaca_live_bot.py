"""End to end against the fake Alpaca, through the public API: store keys (POST /api/keys) -> test them
(POST /api/keys/test) -> create a live bot on Alpaca -> its order reaches the broker exactly once -> the trade and the
P&L arrive over the WebSocket; the wallet shows the broker's balance."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from accounts.models import User
from bots import engine
from tests.bots.test_engine import BUY, scaled
from tests.fake_alpaca.fixtures import alpaca_via_fake, fake_alpaca  # noqa: F401
from tests.fake_alpaca.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error, client_for
from tests.realtime.conftest import run, token_for, ws_connect, ws_receive
from trading.models import Order, Position, Trade

pytestmark = pytest.mark.django_db(transaction=True)


async def until(comm, wanted, limit=30):
    seen = []
    for _ in range(limit):
        msg = await ws_receive(comm, timeout=5)
        seen.append(msg)
        if wanted(msg):
            return msg
    raise AssertionError(f"not received; got {[m['type'] for m in seen]}")


def test_keys_then_a_live_alpaca_bot_trades_once_and_streams_its_pnl(auth_client, user, alpaca_via_fake, settings):
    fake = alpaca_via_fake
    settings.ALPACA_DATA_KEY_ID, settings.ALPACA_DATA_SECRET_KEY = DEFAULT_KEY, DEFAULT_SECRET  # live position prices
    fake.set_price("AAPL", "200")
    providers = auth_client.get("/api/providers").json()
    alpaca = next(p for p in providers["providers"] if p["id"] == "alpaca")
    assert alpaca["type"] == "broker" and alpaca["fields"][0]["name"] == "environment"
    created = auth_client.post(
        "/api/keys",
        {"provider": "alpaca", "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET, "environment": "paper"},
        format="json",
    )
    assert created.status_code == 201, created.content
    key = created.json()["key"]
    assert key["settings"] == {"environment": "paper"} and DEFAULT_SECRET not in created.content.decode()
    tested = auth_client.post("/api/keys/test", {"credential_id": key["id"]}, format="json")
    assert tested.status_code == 200, tested.content
    stored = auth_client.get("/api/keys").json()["keys"][0]
    assert stored["keys_valid"] is True
    assert stored["permissions"] == {"read": True, "trade": True, "withdraw": False}
    User.objects.filter(pk=user.pk).update(system_mode="live_trading", two_factor_enabled=True)
    client = client_for(User.objects.get(pk=user.pk))
    bot = {"name": "Apple", "exchange": "alpaca", "symbol": "AAPL/USD", "trading_mode": "live", "strategy": "momentum"}
    too_big = client.post("/api/bots", {**bot, "initial_capital": 100001}, format="json")
    assert "100000.00 USD" in assert_error(too_big, 400, "VALIDATION_ERROR")["details"]["initial_capital"][0]
    made = client.post("/api/bots", {**bot, "initial_capital": 10000}, format="json")
    assert made.status_code == 201, made.content
    bot_id = made.json()["bot"]["id"]

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        outcome = await sync_to_async(engine.tick_bot)(bot_id, scaled(BUY, 2))  # candles near 200, crossing up
        assert outcome == "traded"
        trade = await until(comm, lambda m: m["type"] == "trade_executed")
        pnl = await until(comm, lambda m: m["type"] == "pnl_update" and m.get("scope") == "bot")
        again = await sync_to_async(engine.tick_bot)(bot_id, scaled(BUY, 2))  # the same candle: nothing new
        return trade, pnl, again

    trade_msg, pnl_msg, again = run(scenario)
    assert again == "ok"
    assert fake.orders_posted == 1 and fake.count("POST", "/v2/orders") == 1  # exactly once at the broker
    (sent,) = fake.orders.values()
    assert sent["symbol"] == "AAPL" and sent["side"] == "buy" and sent["time_in_force"] == "day"
    assert Decimal(sent["qty"]) == Decimal(sent["qty"]).to_integral_value() > 0  # whole shares
    order = Order.objects.get(bot_id=bot_id)
    assert not order.is_paper and order.exchange_order_id == sent["id"] and order.filled == Decimal(sent["qty"])
    trade = Trade.objects.get(bot_id=bot_id)
    assert trade.price == Decimal("200.01") and trade.amount == Decimal(sent["qty"])
    assert trade_msg["trade"]["symbol"] == "AAPL/USD" and trade_msg["trade"]["exchange"] == "alpaca"
    assert pnl_msg["bot_id"] == str(bot_id) and pnl_msg["currency"] == "USD"
    assert Position.objects.get(bot_id=bot_id, is_open=True).amount == Decimal(sent["qty"])
    # The wallet reads the broker's balance through the same adapter.
    wallet = client.get("/api/wallet/balances")
    assert wallet.status_code == 200, wallet.content
    held = wallet.json()["balances"]["alpaca"]
    assert wallet.json()["mode"] == "live" and held["AAPL"] == float(sent["qty"])
    assert held["USD"] == pytest.approx(100000 - float(trade.price * trade.amount), abs=0.01)
    # A manual order through the API: a fraction of a share is refused before Alpaca sees it, whole shares go through.
    fraction = client.post(
        "/api/orders", {"exchange": "alpaca", "symbol": "MSFT/USD", "side": "buy", "amount": "0.5"}, format="json"
    )
    assert "whole shares" in assert_error(fraction, 400, "VALIDATION_ERROR")["error"] and fake.orders_posted == 1
    manual = client.post(
        "/api/orders", {"exchange": "alpaca", "symbol": "MSFT/USD", "side": "buy", "amount": "2"}, format="json"
    )
    assert manual.status_code == 201, manual.content
    assert manual.json()["order"]["status"] == "closed" and fake.orders_posted == 2
    # The platform's health reaches Alpaca (a keyless crypto quote).
    health = client.get("/api/platforms/health").json()["platforms"]["alpaca"]
    assert health["status"] == "operational" and health["has_keys"] is True and health["keys_valid"] is True
