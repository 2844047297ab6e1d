"""Paper trading on stocks: sessions, the simulated stock feed, lots, order options (stop, stop_limit, time in force,
product), orders that wait for the open, the manual orders API and INR/USD valuation."""

import datetime
import itertools
from decimal import Decimal

import pytest

from amarktai.errors import ValidationFailed
from tests.equities import IN, NSE_OPEN, NY_CLOSED, NY_NEXT_OPEN, NY_OPEN, US, at, clock, stock_platforms  # noqa: F401
from trading import sessions
from trading.exchanges import market_data, simfeed
from trading.exchanges.base import OrderOptions
from trading.exchanges.paper import PaperExchange
from trading.models import Order, PaperBalance, Trade
from trading.valuation import Valuation


class Book:
    """A feed whose book the test sets (the simulated feed's session rules still decide when the market is open)."""

    source = "simulated"

    def __init__(self, last):
        self.set(last)

    def set(self, last):
        last = Decimal(str(last))
        self.book = {"bid": last - Decimal("0.02"), "ask": last + Decimal("0.02"), "last": last}

    def ticker(self, symbol, now=None):
        return {"symbol": symbol, **self.book, "timestamp": 0}

    def ohlcv(self, symbol, timeframe="1m", limit=100, now=None):
        return simfeed.ohlcv(symbol, timeframe, limit)


@pytest.fixture
def paper(user, stock_platforms, clock):
    return PaperExchange(user, US.id, feed=Book("200"))


def usd(exchange):
    return exchange.fetch_balance()["USD"]


# --- sessions ----------------------------------------------------------------------------------------------------
class TestSessions:
    def test_us_equities_session_and_clock(self):
        assert sessions.is_open("AAPL/USD", NY_OPEN)
        assert not sessions.is_open("AAPL/USD", at(2026, 11, 25, 14, 29))  # 09:29 in New York
        assert sessions.is_open("AAPL/USD", at(2026, 11, 25, 14, 30))
        assert not sessions.is_open("AAPL/USD", at(2026, 11, 25, 21, 0))  # 16:00: closed
        assert not sessions.is_open("SPY/USD", NY_CLOSED)
        clock = sessions.market_clock("AAPL/USD", NY_CLOSED)
        assert clock["is_open"] is False
        assert clock["next_open"] == datetime.datetime.fromtimestamp(NY_NEXT_OPEN, tz=datetime.UTC)
        assert clock["next_close"] == datetime.datetime(2026, 11, 30, 21, 0, tzinfo=datetime.UTC)
        assert "America/New_York" in clock["session"]
        # Summer time: 09:30 New York is 13:30 UTC.
        assert sessions.is_open("AAPL/USD", at(2026, 7, 1, 13, 30))
        assert not sessions.is_open("AAPL/USD", at(2026, 7, 1, 20, 0))

    def test_nse_and_crypto(self):
        assert sessions.is_open("RELIANCE/INR", NSE_OPEN)
        assert not sessions.is_open("RELIANCE/INR", at(2026, 11, 25, 3, 44))  # 09:14 in Mumbai
        assert sessions.is_open("RELIANCE/INR", at(2026, 11, 25, 3, 45))
        assert not sessions.is_open("TCS/INR", at(2026, 11, 25, 10, 0))  # 15:30
        assert sessions.is_open("BTC/USD", NY_CLOSED)
        assert sessions.market_clock("BTC/USD")["session"] == "24/7"
        assert sessions.lot_size("AAPL/USD") == 1 and sessions.lot_size("NIFTY/INR") == 75
        assert sessions.lot_size("BTC/USD") is None


# --- the simulated feed ------------------------------------------------------------------------------------------
class TestSimulatedStocks:
    def test_realistic_levels(self):
        levels = {"AAPL/USD": 230, "MSFT/USD": 420, "TSLA/USD": 250, "SPY/USD": 570, "RELIANCE/INR": 1300}
        levels.update({"TCS/INR": 4000, "INFY/INR": 1800, "HDFCBANK/INR": 1700, "SBIN/INR": 800})
        for symbol, level in levels.items():
            last = float(simfeed.ticker(symbol, NY_OPEN)["last"])
            assert level * 0.6 < last < level * 1.6, (symbol, last)
        assert simfeed.ticker("USD/INR", NY_OPEN)["last"] == Decimal("83.5")

    def test_prices_move_only_in_session(self):
        # Closed all weekend: the price stands at Friday's close; flat candles with no volume.
        friday_close = simfeed.ticker("AAPL/USD", at(2026, 11, 27, 21, 0))["last"]
        assert simfeed.ticker("AAPL/USD", NY_CLOSED)["last"] == friday_close
        assert simfeed.ticker("AAPL/USD", NY_CLOSED + 86_400)["last"] == friday_close
        for _ts, open_, high, low, close, volume in simfeed.ohlcv("AAPL/USD", "1m", 30, NY_CLOSED):
            assert open_ == high == low == close == friday_close and volume == 0
        # In session it moves, and its candles have volume.
        moving = simfeed.ohlcv("AAPL/USD", "1m", 30, NY_OPEN)
        assert len({row[4] for row in moving}) > 1 and all(row[5] > 0 for row in moving)
        # Hourly candles over a closed night: the series is unbroken (no missing candles).
        hourly = simfeed.ohlcv("AAPL/USD", "1h", 48, NY_OPEN)
        assert [b[0] - a[0] for a, b in itertools.pairwise(hourly)] == [3_600_000] * 47
        # Crypto never stops.
        btc = simfeed.ohlcv("BTC/USD", "1m", 30, NY_CLOSED)
        assert len({row[4] for row in btc}) > 1


# --- lots and order options --------------------------------------------------------------------------------------
@pytest.mark.django_db
class TestPaperStocks:
    def test_markets_have_lots_and_orders_whole_shares(self, paper):
        market = paper.load_markets()["AAPL/USD"]
        assert market["lot_size"] == 1 and market["amount_precision"] == 1 and market["min_amount"] == 1
        assert paper.load_markets()["BTC/USD"]["lot_size"] is None
        order = paper.create_order("AAPL/USD", "market", "buy", Decimal("3.7"))
        assert order["status"] == "closed" and order["filled"] == 3  # rounded down to whole shares
        with pytest.raises(ValidationFailed, match=r"whole shares: 0\.5 is less than one share"):
            paper.create_order("AAPL/USD", "market", "buy", Decimal("0.5"))

    def test_nifty_trades_in_lots(self, user, stock_platforms, clock):
        clock.set(NSE_OPEN)
        exchange = PaperExchange(user, IN.id, feed=Book("1000"))  # a cheap test book: 150 units fit 1M INR
        with pytest.raises(ValidationFailed, match="lots of 75"):
            exchange.create_order("NIFTY/INR", "market", "buy", 10)
        assert exchange.create_order("NIFTY/INR", "market", "buy", 160)["filled"] == 150
        assert exchange.market_clock("NIFTY/INR")["is_open"] is True

    def test_closed_market_order_waits_for_the_open(self, paper, clock):
        clock.set(NY_CLOSED)
        order = paper.create_order("AAPL/USD", "market", "buy", 10)
        assert order["status"] == "open" and order["filled"] == 0
        assert usd(paper)["used"] > Decimal("2000")  # its funds are reserved
        assert paper.match_open_orders() == []  # still closed: nothing fills
        assert paper.market_clock("AAPL/USD")["is_open"] is False
        clock.set(NY_NEXT_OPEN + 60)
        paper.feed.set("205")
        filled = paper.match_open_orders()
        assert [o["id"] for o in filled] == [order["id"]]
        assert filled[0]["average"] >= Decimal("205.02") and filled[0]["filled"] == 10
        assert usd(paper)["used"] == 0
        assert paper.fetch_balance()["AAPL"]["free"] == 10

    def test_ioc_refused_while_closed_and_canceled_when_not_marketable(self, paper, clock):
        clock.set(NY_CLOSED)
        with pytest.raises(ValidationFailed, match="market is closed"):
            paper.create_order("AAPL/USD", "market", "buy", 1, options=OrderOptions(time_in_force="ioc"))
        clock.set(NY_OPEN)
        order = paper.create_order(
            "AAPL/USD", "limit", "buy", 1, price="150", options=OrderOptions(time_in_force="ioc")
        )
        assert order["status"] == "canceled" and usd(paper)["used"] == 0

    def test_stop_order_triggers_a_market_order(self, paper):
        paper.create_order("AAPL/USD", "market", "buy", 5)
        stop = paper.create_order("AAPL/USD", "stop", "sell", 5, options=OrderOptions(stop_price=Decimal("190")))
        assert stop["status"] == "open" and stop["stop_price"] == Decimal("190")
        assert paper.fetch_balance()["AAPL"]["used"] == 5
        paper.feed.set("195")
        assert paper.match_open_orders() == []
        paper.feed.set("189.50")
        filled = paper.match_open_orders()
        assert filled and filled[0]["average"] <= Decimal("189.48") and filled[0]["filled"] == 5

    def test_stop_limit_becomes_a_limit_order(self, paper):
        options = OrderOptions(stop_price=Decimal("210"))
        order = paper.create_order("AAPL/USD", "stop_limit", "buy", 2, price="211", options=options)
        assert order["status"] == "open"
        paper.feed.set("212")  # triggered, but the ask (212.02) is above the limit: rests as a limit order at 211
        assert paper.match_open_orders() == []
        assert paper.fetch_order(order["id"])["status"] == "open"
        paper.feed.set("210.50")
        filled = paper.match_open_orders()
        assert filled and filled[0]["average"] == Decimal("211")

    def test_day_order_expires_at_the_close(self, paper, clock):
        order = paper.create_order(
            "AAPL/USD", "limit", "buy", 1, price="150", options=OrderOptions(time_in_force="day")
        )
        assert order["status"] == "open"
        clock.set(at(2026, 11, 25, 21, 1))  # after 16:00 in New York
        assert paper.match_open_orders() == []
        assert paper.fetch_order(order["id"])["status"] == "canceled" and usd(paper)["used"] == 0

    def test_option_checks(self, paper):
        with pytest.raises(ValidationFailed, match="stop_price"):
            paper.create_order("AAPL/USD", "stop", "sell", 1)
        with pytest.raises(ValidationFailed, match="only for stop"):
            paper.create_order("AAPL/USD", "market", "buy", 1, options=OrderOptions(stop_price=Decimal("1")))
        with pytest.raises(ValidationFailed, match="product"):
            OrderOptions(product="XYZ")
        order = paper.create_order("AAPL/USD", "market", "buy", 1, options=OrderOptions(product="CNC"))
        assert order["product"] == "CNC"

    def test_gap_beyond_the_reservation_rejects_the_buy(self, paper, clock, settings):
        clock.set(NY_CLOSED)
        PaperBalance.objects.filter(user=paper.user, platform=US.id).delete()
        settings.PAPER_STARTING_BALANCES = {"USD": "2100"}
        paper.create_order("AAPL/USD", "market", "buy", 10)  # reserves ~2000.4 of 2100
        clock.set(NY_NEXT_OPEN + 60)
        paper.feed.set("300")  # opens far higher: 10 shares cost ~3000
        assert paper.match_open_orders() == []
        assert usd(paper) == {"free": Decimal("2100"), "used": Decimal("0"), "total": Decimal("2100")}


# --- the ccxt adapter maps what it can ----------------------------------------------------------------------------
def test_ccxt_adapter_refuses_options_it_cannot_map(settings):
    from trading.exchanges.ccxt_adapter import CcxtExchange
    from trading.platforms import get_platform

    exchange = CcxtExchange.__new__(CcxtExchange)
    exchange.platform = get_platform("luno")
    exchange.platform_id = "luno"
    exchange.client = type("Client", (), {"has": {"createStopOrder": None}})()
    with pytest.raises(ValidationFailed, match="products"):
        exchange._option_params("market", OrderOptions(product="MIS"))
    with pytest.raises(ValidationFailed, match="no day orders"):
        exchange._option_params("limit", OrderOptions(time_in_force="day"))
    with pytest.raises(ValidationFailed, match="does not take stop orders"):
        exchange._option_params("stop", OrderOptions(stop_price=Decimal("1")))
    assert exchange._option_params("limit", OrderOptions(time_in_force="ioc")) == {"timeInForce": "IOC"}
    exchange.client = type("Client", (), {"has": {"createStopLimitOrder": True}})()
    assert exchange._option_params("stop_limit", OrderOptions(stop_price=Decimal("5"))) == {"stopPrice": 5.0}


# --- the manual orders API ---------------------------------------------------------------------------------------
@pytest.mark.django_db
class TestOrdersApi:
    def test_stock_order_options_through_the_api(self, auth_client, stock_platforms, clock):
        body = {"exchange": US.id, "symbol": "AAPL/USD", "side": "buy", "type": "market", "amount": 2}
        r = auth_client.post("/api/orders", {**body, "product": "CNC", "time_in_force": "day"}, format="json")
        assert r.status_code == 201, r.content
        order = r.json()["order"]
        assert order["status"] == "closed" and order["filled"] == 2
        assert order["product"] == "CNC" and order["time_in_force"] == "day" and order["stop_price"] is None
        stop = auth_client.post(
            "/api/orders", {**body, "side": "sell", "type": "stop", "stop_price": 100}, format="json"
        ).json()["order"]
        assert stop["type"] == "stop" and stop["status"] == "open" and stop["stop_price"] == 100
        # Closed: a market order waits for the open, then the fill reaches the order book through the sync.
        clock.set(NY_CLOSED)
        waiting = auth_client.post("/api/orders", body, format="json").json()["order"]
        assert waiting["status"] == "open"
        clock.set(NY_NEXT_OPEN + 120)
        from trading.services import sync_open_orders

        sync_open_orders()
        assert Order.objects.get(pk=waiting["id"]).status == "closed"
        assert Trade.objects.filter(order_id=waiting["id"], amount=2).exists()

    def test_a_retry_must_repeat_the_options(self, auth_client, stock_platforms, clock):
        body = {"exchange": US.id, "symbol": "AAPL/USD", "side": "buy", "type": "limit", "amount": 1, "price": 150}
        body = {**body, "time_in_force": "day", "client_order_id": "mine-1"}
        first = auth_client.post("/api/orders", body, format="json")
        assert first.status_code == 201, first.content
        again = auth_client.post("/api/orders", body, format="json")
        assert again.status_code in (200, 201) and again.json()["order"]["id"] == first.json()["order"]["id"]
        other = auth_client.post("/api/orders", {**body, "time_in_force": "gtc"}, format="json")
        assert other.status_code == 409
        assert Order.objects.count() == 1

    def test_api_validation(self, auth_client, stock_platforms, clock):
        body = {"exchange": US.id, "symbol": "AAPL/USD", "side": "buy", "amount": 1}
        for extra, field in (
            ({"type": "stop"}, "stop_price"),
            ({"type": "stop_limit", "stop_price": 10}, "price"),
            ({"time_in_force": "fok"}, "time_in_force"),
            ({"product": "ABC"}, "product"),
            ({"amount": 0.4}, "amount"),
        ):
            r = auth_client.post("/api/orders", {**body, **extra}, format="json")
            assert r.status_code == 400 and field in r.json().get("details", {}), (extra, r.content)

    def test_schema_shows_the_options(self, auth_client):
        schema = auth_client.get("/api/schema/?format=json").json()
        ref = schema["paths"]["/api/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        fields = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
        assert {"stop_price", "time_in_force", "product"} <= set(fields)
        assert "stop_limit" in str(schema["components"]["schemas"])


# --- valuation of INR and USD stock balances ---------------------------------------------------------------------
@pytest.mark.django_db
def test_inr_and_stock_balances_value_in_the_base_currency(stock_platforms, clock):
    valuation = Valuation(currency="ZAR", source="simulated")
    assert valuation.rate("INR") == pytest.approx(Decimal(18.5 / 83.5), rel=Decimal("0.001"))
    assert valuation.rate("USD") == pytest.approx(Decimal("18.5"), rel=Decimal("0.001"))
    aapl = market_data(US.id).fetch_ticker("AAPL/USD")["last"]
    assert valuation.rate("AAPL") == pytest.approx(aapl * Decimal("18.5"), rel=Decimal("0.001"))
    reliance = valuation.convert({"RELIANCE": Decimal("2"), "INR": Decimal("835")})
    assert not reliance.unpriced and reliance.total > Decimal("185")
    in_usd = Valuation(currency="USD", source="simulated")
    assert in_usd.rate("INR") == pytest.approx(Decimal(1 / 83.5), rel=Decimal("0.001"))
    assert Valuation(currency="USDT", source="simulated").rate("INR") is not None
