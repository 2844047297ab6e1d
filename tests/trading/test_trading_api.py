"""Trades, metrics, positions and orders through the API, on the paper exchange and the simulated feed."""

from decimal import Decimal

import pytest

from bots import engine
from bots.services import create_bot
from tests.bots.test_engine import BUY, SELL, scaled
from tests.helpers import assert_error
from trading.models import Order, PaperOrder, Trade

TRADE_KEYS = {"id", "bot_id", "exchange", "symbol", "side", "amount", "price", "profit_loss", "timestamp"}


@pytest.fixture
def traded_bot(user):
    bot = create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    engine.tick_bot(bot.pk, scaled(SELL, 12000))
    return bot


@pytest.mark.django_db
class TestTrades:
    def test_shape_paging_and_filter(self, auth_client, traded_bot, user):
        other = create_bot(user, name="Beta", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
        engine.tick_bot(other.pk, scaled(BUY, 12000))
        body = auth_client.get("/api/trades").json()
        assert body["success"] is True and body["total"] == 3 and len(body["trades"]) == 3
        trade = body["trades"][0]
        assert TRADE_KEYS <= set(trade) and trade["timestamp"].endswith("Z")
        assert isinstance(trade["amount"], float) and isinstance(trade["price"], float)
        only = auth_client.get(f"/api/trades?bot_id={traded_bot.pk}").json()
        assert only["total"] == 2 and {t["bot_id"] for t in only["trades"]} == {str(traded_bot.pk)}
        page = auth_client.get("/api/trades?limit=1&offset=1").json()
        assert page["total"] == 3 and len(page["trades"]) == 1 and page["trades"][0]["id"] == body["trades"][1]["id"]
        for bad in ("limit=0", "limit=abc", "offset=-1", "bot_id=nope"):
            assert_error(auth_client.get(f"/api/trades?{bad}"), 400, "VALIDATION_ERROR")

    def test_other_user_sees_no_trades(self, other_client, traded_bot):
        assert other_client.get("/api/trades").json() == {
            "success": True,
            "trades": [],
            "total": 0,
            "next_cursor": None,
        }
        assert other_client.get(f"/api/trades?bot_id={traded_bot.pk}").json()["total"] == 0


@pytest.mark.django_db
def test_metrics(auth_client, traded_bot):
    body = auth_client.get("/api/metrics").json()
    assert body["success"] is True
    metrics = body["metrics"]
    assert set(metrics) == {
        "total_profit",
        "total_capital",
        "active_bots",
        "total_bots",
        "win_rate",
        "exposure",
        "risk_level",
        # money is in the user's base currency (trading.valuation): the figures below and the valuation block
        "realised_pnl",
        "unrealised_pnl",
        "total_pnl",
        "daily_pnl",
        "open_positions",
        "positions_without_price",
        "currency",
        "rate_source",
        "rates",
        "breakdown",
        "unpriced",
    }
    sell = Trade.objects.get(side="sell")
    assert metrics["total_profit"] == round(float(sell.profit_loss), 2)
    assert metrics["total_capital"] == round(float(Decimal("50000") + sell.profit_loss), 2)
    assert metrics["active_bots"] == 1 and metrics["total_bots"] == 1
    assert metrics["win_rate"] == (100.0 if sell.profit_loss > 0 else 0.0)
    assert metrics["exposure"] == 0.0 and metrics["risk_level"] == "low"


@pytest.mark.django_db
def test_positions_with_unrealised_pnl(auth_client, user):
    bot = create_bot(user, name="Holder", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    body = auth_client.get("/api/positions").json()
    assert body["success"] is True and body["total"] == 1
    position = body["positions"][0]
    assert position["bot_id"] == str(bot.pk) and position["symbol"] == "BTC/ZAR" and position["side"] == "long"
    entry_fee = float(Trade.objects.get(bot=bot).fee)
    expected = (position["current_price"] - position["entry_price"]) * position["amount"] - entry_fee
    assert abs(position["unrealised_pnl"] - expected) < 0.01
    metrics = auth_client.get("/api/metrics").json()["metrics"]
    assert metrics["exposure"] > 0


@pytest.mark.django_db
class TestOrders:
    def test_manual_market_order_creates_a_trade(self, auth_client):
        r = auth_client.post(
            "/api/orders",
            {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": 0.001},
            format="json",
        )
        assert r.status_code == 201, r.content
        order = r.json()["order"]
        assert order["status"] == "closed" and order["filled"] == 0.001 and order["is_paper"] is True
        trades = auth_client.get("/api/trades").json()
        assert trades["total"] == 1 and trades["trades"][0]["bot_id"] is None
        listing = auth_client.get("/api/orders?status=closed").json()
        assert listing["total"] == 1 and listing["orders"][0]["id"] == order["id"]

    def test_insufficient_funds_and_validation(self, auth_client):
        r = auth_client.post(
            "/api/orders", {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "amount": 1}, format="json"
        )
        assert_error(r, 400, "INSUFFICIENT_FUNDS")
        assert not Order.objects.exists()
        for body in (
            {"exchange": "luno", "symbol": "BTC/ZAR", "side": "hold", "amount": 1},
            {"exchange": "nowhere", "symbol": "BTC/ZAR", "side": "buy", "amount": 1},
            {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "limit", "amount": 0.01},
            {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "amount": -1},
        ):
            assert_error(auth_client.post("/api/orders", body, format="json"), 400, "VALIDATION_ERROR")

    def test_limit_order_cancel_and_modify(self, auth_client):
        ticker_price = 500000  # far below the simulated BTC/ZAR price: rests
        r = auth_client.post(
            "/api/orders",
            {
                "exchange": "luno",
                "symbol": "BTC/ZAR",
                "side": "buy",
                "type": "limit",
                "amount": 0.01,
                "price": ticker_price,
            },
            format="json",
        )
        order = r.json()["order"]
        assert order["status"] == "open"
        modified = auth_client.patch(f"/api/orders/{order['id']}", {"price": 400000}, format="json").json()["order"]
        assert modified["status"] == "open" and modified["price"] == 400000.0 and modified["id"] != order["id"]
        assert auth_client.get(f"/api/orders/{order['id']}").json()["order"]["status"] == "canceled"
        cancelled = auth_client.post(f"/api/orders/{modified['id']}/cancel").json()["order"]
        assert cancelled["status"] == "canceled"
        assert_error(auth_client.post(f"/api/orders/{modified['id']}/cancel"), 400, "VALIDATION_ERROR")
        assert not PaperOrder.objects.filter(status="open").exists()

    def test_poller_fills_crossed_limit_orders(self, auth_client, user):
        from trading.exchanges import simfeed
        from trading.tasks import sync_open_orders

        price = float(simfeed.ticker("BTC/ZAR")["ask"]) * 1.5  # a buy limit above the market fills at once as taker
        r = auth_client.post(
            "/api/orders",
            {
                "exchange": "luno",
                "symbol": "BTC/ZAR",
                "side": "buy",
                "type": "limit",
                "amount": 0.001,
                "price": round(price, 2),
            },
            format="json",
        )
        assert r.json()["order"]["status"] == "closed"
        low = auth_client.post(
            "/api/orders",
            {
                "exchange": "luno",
                "symbol": "BTC/ZAR",
                "side": "sell",
                "type": "limit",
                "amount": 0.001,
                "price": round(price / 3, 2),
            },
            format="json",
        )
        assert low.json()["order"]["status"] == "closed"  # a sell below the bid fills at once too
        assert sync_open_orders() == 0

    def test_large_order_is_split_at_the_freeze_quantity(self, auth_client, settings):
        settings.PAPER_STARTING_BALANCES = {"ZAR": "100000000"}
        r = auth_client.post(
            "/api/orders",
            {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": 6},
            format="json",
        )
        assert r.status_code == 201, r.content
        parent = Order.objects.get(pk=r.json()["order"]["id"])
        children = list(parent.children.order_by("amount"))
        assert [c.amount for c in children] == [Decimal("1"), Decimal("5")]
        assert parent.status == "closed" and parent.filled == Decimal("6")
        assert Trade.objects.count() == 2

    def test_other_users_orders_are_not_found(self, auth_client, other_client):
        order_id = auth_client.post(
            "/api/orders",
            {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "limit", "amount": 0.01, "price": 500000},
            format="json",
        ).json()["order"]["id"]
        assert_error(other_client.get(f"/api/orders/{order_id}"), 404, "NOT_FOUND")
        assert_error(other_client.post(f"/api/orders/{order_id}/cancel"), 404, "NOT_FOUND")
        assert_error(other_client.patch(f"/api/orders/{order_id}", {"price": 1}, format="json"), 404, "NOT_FOUND")
        assert other_client.get("/api/orders").json()["total"] == 0
        assert other_client.get("/api/positions").json()["total"] == 0


@pytest.mark.django_db
def test_metrics_include_manual_realised_pnl(auth_client):
    for side in ("buy", "sell"):
        auth_client.post(
            "/api/orders", {"exchange": "luno", "symbol": "BTC/ZAR", "side": side, "amount": 0.001}, format="json"
        )
    sell = Trade.objects.get(side="sell")
    assert sell.profit_loss != 0
    assert auth_client.get("/api/metrics").json()["metrics"]["total_profit"] == round(float(sell.profit_loss), 2)
