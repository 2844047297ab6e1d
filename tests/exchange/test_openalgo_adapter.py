"""The OpenAlgo adapter against the fake gateway (tests/fake_openalgo) over real HTTP: connection test naming the
broker, funds and holdings, place / status / cancel, positions, freeze-quantity splits, the margin check, a rejected
order, 5xx and timeouts (reads retried, orders never), the gateway URL's SSRF rules and product/exchange mapping."""

from dataclasses import dataclass
from decimal import Decimal

import pytest

from amarktai.errors import AuthInvalid, InsufficientFunds, NotFound, ProviderError, ValidationFailed
from tests.fake_openalgo.fixtures import fake_openalgo  # noqa: F401
from tests.fake_openalgo.server import BROKER, DEFAULT_KEY
from trading.exchanges import connect, market_data, public_exchange
from trading.exchanges.base import KeySet
from trading.exchanges.openalgo_adapter import check_host


@dataclass
class Options:  # the shape of trading.exchanges.base.OrderOptions (the equities helper's dataclass)
    product: str | None = None
    time_in_force: str = "day"
    stop_price: Decimal | None = None
    exchange: str | None = None  # not on OrderOptions: read with getattr, NSE when absent


def gateway(fake, key=DEFAULT_KEY, **options):
    return connect("openalgo", KeySet("openalgo", api_key=key, extras={"host_url": fake.url}), **options)


def bodies(fake, endpoint):
    return [body for name, body in fake.requests if name == endpoint]


def test_catalogue_entry(auth_client):
    providers = {p["id"]: p for p in auth_client.get("/api/providers").json()["providers"]}
    entry = providers["openalgo"]
    assert entry["type"] == "broker" and entry["required_fields"] == ["api_key", "host_url"]
    assert entry["fields"][0]["name"] == "host_url" and entry["fields"][0]["kind"] == "url"
    assert entry["fields"][0]["secret"] is False and entry["fields"][0]["required"] is True
    platforms = {p["id"]: p for p in auth_client.get("/api/system/platforms").json()["platforms"]}
    assert platforms["openalgo"]["kind"] == "stock" and platforms["openalgo"]["quote_currency"] == "INR"
    assert "RELIANCE/INR" in platforms["openalgo"]["symbols"]


def test_connection_names_the_broker_and_the_key_is_checked(fake_openalgo):
    exchange = gateway(fake_openalgo)
    result = exchange.test_connection()
    assert BROKER in result["account"]
    assert result["permissions"] == {"read": True, "trade": True, "withdraw": False}
    assert exchange.ping() >= 0
    assert fake_openalgo.count("ping") == 2
    with pytest.raises(AuthInvalid):
        gateway(fake_openalgo, key="wrong").test_connection()
    assert DEFAULT_KEY not in repr(exchange)


def test_keys_test_endpoint_with_unstored_keys(auth_client, fake_openalgo):
    body = {"provider": "openalgo", "api_key": DEFAULT_KEY, "host_url": fake_openalgo.url}
    response = auth_client.post("/api/keys/test", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["provider"] == "openalgo" and BROKER in response.json()["account"]
    bad = auth_client.post("/api/keys/test", {**body, "api_key": "nope"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"] == "Invalid API credentials"


def test_balance_holds_cash_and_stocks(fake_openalgo):
    fake_openalgo.holdings["TCS"] = 4
    exchange = gateway(fake_openalgo)
    balance = exchange.fetch_balance()
    assert balance["INR"]["free"] == Decimal("1000000.00") and balance["TCS"]["total"] == 4
    order = exchange.create_order("SBIN/INR", "market", "buy", 10)
    assert order["status"] == "closed" and order["filled"] == 10 and order["average"] == 800
    balance = exchange.fetch_balance()
    assert balance["SBIN"]["free"] == 10 and balance["INR"]["free"] == Decimal("992000.00")
    assert exchange.fetch_positions() == [
        {"symbol": "SBIN/INR", "exchange": "NSE", "product": "CNC", "amount": 10, "average": Decimal("800.00")}
    ]


def test_place_status_cancel(fake_openalgo):
    exchange = gateway(fake_openalgo)
    order = exchange.create_order("INFY/INR", "limit", "buy", 5, price="1700.03", client_order_id="amk-1")
    assert order["status"] == "open" and order["price"] == Decimal("1700.00")  # rounded to the tick, buy down
    assert order["client_order_id"] == "amk-1" and fake_openalgo.count("placeorder") == 1
    assert [o["id"] for o in exchange.fetch_open_orders("INFY/INR")] == [order["id"]]
    assert exchange.fetch_order(order["id"])["status"] == "open"
    canceled = exchange.cancel_order(order["id"], "INFY/INR")
    assert canceled["status"] == "canceled" and exchange.fetch_open_orders() == []
    with pytest.raises(ProviderError, match="not open"):
        exchange.cancel_order(order["id"])
    with pytest.raises(NotFound):  # an order that never got a gateway id is looked up by our client id: none has it
        exchange.fetch_order("amk-1")
    with pytest.raises(NotFound):
        exchange.fetch_order("999")


def test_product_exchange_and_order_types_map(fake_openalgo):
    exchange = gateway(fake_openalgo)
    exchange.create_order("TCS/INR", "market", "buy", 1)
    exchange.create_order("TCS/INR", "market", "buy", 1, options=Options(product="MIS"))
    exchange.create_order("TCS/INR", "stop", "sell", 1, options=Options(product="MIS", stop_price=Decimal("4000")))
    sent = bodies(fake_openalgo, "placeorder")
    assert [(b["product"], b["pricetype"], b["exchange"]) for b in sent] == [
        ("CNC", "MARKET", "NSE"),
        ("MIS", "MARKET", "NSE"),
        ("MIS", "SL-M", "NSE"),
    ]
    assert sent[2]["trigger_price"] == "4000" and sent[0]["quantity"] == "1"
    with pytest.raises(ValidationFailed, match="stop price"):
        exchange.create_order("TCS/INR", "stop", "sell", 1)
    with pytest.raises(ValidationFailed, match="product"):
        exchange.create_order("TCS/INR", "market", "buy", 1, options=Options(product="BO"))
    with pytest.raises(ValidationFailed, match="no market"):
        exchange.create_order("BTC/USDT", "market", "buy", 1)


def test_above_the_freeze_quantity_one_split_order_with_children(fake_openalgo):
    fake_openalgo.cash = Decimal("5000000")
    exchange = gateway(fake_openalgo)
    order = exchange.create_order("RELIANCE/INR", "market", "buy", 1200, client_order_id="amk-split")
    assert fake_openalgo.count("splitorder") == 1 and fake_openalgo.count("placeorder") == 0
    assert bodies(fake_openalgo, "splitorder")[0]["splitsize"] == "500"
    assert [c["amount"] for c in order["children"]] == [500, 500, 200]
    assert [c["client_order_id"] for c in order["children"]] == ["amk-split-0", "amk-split-1", "amk-split-2"]
    assert order["status"] == "closed" and order["filled"] == 1200 and order["average"] == 2900
    assert order["amount"] == 1200 and order["id"] == order["children"][0]["id"]
    # At or below the freeze quantity: an ordinary order.
    assert "children" not in exchange.create_order("RELIANCE/INR", "market", "buy", 500)


def test_margin_is_checked_before_anything_is_sent(fake_openalgo):
    exchange = gateway(fake_openalgo)
    with pytest.raises(InsufficientFunds, match="needs 2900000 INR of margin"):
        exchange.create_order("RELIANCE/INR", "market", "buy", 1000)
    assert fake_openalgo.count("margin") == 1
    assert fake_openalgo.count("placeorder") == 0 and fake_openalgo.count("splitorder") == 0
    # Intraday (MIS) needs a fifth: it goes through.
    assert exchange.create_order("RELIANCE/INR", "market", "buy", 300, options=Options(product="MIS"))["filled"] == 300


def test_rejected_orders(fake_openalgo):
    exchange = gateway(fake_openalgo)
    fake_openalgo.reject_symbols.add("HDFCBANK")
    order = exchange.create_order("HDFCBANK/INR", "market", "buy", 1)
    assert order["status"] == "rejected" and order["filled"] == 0
    # The gateway refuses the order itself (400): its message is kept.
    with pytest.raises(ProviderError, match="OpenAlgo rejected placeorder: Symbol 'SBIN' not found for exchange 'BSE'"):
        exchange.create_order("SBIN/INR", "market", "buy", 1, options=Options(exchange="BSE"))


def test_5xx_reads_are_retried_orders_never(fake_openalgo):
    exchange = gateway(fake_openalgo)
    fake_openalgo.fail_next("500", endpoint="funds")
    assert exchange.fetch_balance()["INR"]["free"] > 0
    assert fake_openalgo.count("funds") == 2
    fake_openalgo.fail_next("503", endpoint="placeorder")
    with pytest.raises(ProviderError, match="state is unknown"):
        exchange.create_order("TCS/INR", "market", "buy", 1)
    assert fake_openalgo.count("placeorder") == 1
    fake_openalgo.fail_next("500", times=10, endpoint="quotes")
    with pytest.raises(ProviderError, match="not reachable"):
        gateway(fake_openalgo, max_retries=1).fetch_ticker("TCS/INR")


def test_timeouts(fake_openalgo, settings):
    exchange = gateway(fake_openalgo, timeout_ms=300)
    fake_openalgo.fail_next("timeout", delay=0.6, endpoint="quotes")
    assert exchange.fetch_ticker("TCS/INR")["last"] == 4100  # retried after the timeout
    assert fake_openalgo.count("quotes") == 2
    fake_openalgo.fail_next("timeout", delay=0.6, endpoint="placeorder")
    with pytest.raises(ProviderError, match="state is unknown"):
        exchange.create_order("TCS/INR", "market", "buy", 1)
    assert fake_openalgo.count("placeorder") == 1


def test_market_data_and_clock(fake_openalgo):
    exchange = gateway(fake_openalgo)
    ticker = exchange.fetch_ticker("RELIANCE/INR")
    assert ticker["last"] == 2900 and ticker["bid"] < ticker["ask"]
    candles = exchange.fetch_ohlcv("RELIANCE/INR", "5m", 20)
    assert len(candles) == 20 and candles[-1][4] == 2900 and candles[0][0] < candles[-1][0]
    clock = exchange.market_clock("RELIANCE/INR")
    assert clock["session"].startswith("NSE") and clock["next_close"] is not None
    assert clock["is_open"] is True  # the fixture's clock: a Wednesday 10:30 in Mumbai


def test_gateway_url_rules(settings, fake_openalgo):
    for url in (
        "file:///etc/passwd",
        "ftp://gw.example.com",
        "gopher://x",
        "http://user:pw@gw.example.com",
        "https://gw.example.com/?next=1",
        "http://",
        "gw.example.com",
    ):
        with pytest.raises(ValidationFailed):
            check_host(url)
    assert check_host("https://gw.example.com/") == "https://gw.example.com"
    settings.OPENALGO_ALLOWED_HOSTS = ["*.example.com"]
    assert check_host("https://gw.example.com") == "https://gw.example.com"
    with pytest.raises(ValidationFailed, match="not one of the gateway hosts"):
        check_host(fake_openalgo.url)
    with pytest.raises(ValidationFailed):
        gateway(fake_openalgo)
    assert fake_openalgo.requests == []
    settings.OPENALGO_ALLOWED_HOSTS = []
    settings.OPENALGO_ALLOW_PRIVATE_HOSTS = False  # production: the platform's own network is out of bounds
    for url in (
        "http://127.0.0.1:5000",
        "http://10.0.0.5",
        "http://169.254.169.254",
        "http://[::1]:5000",
        "http://localhost:5000",
        "http://[::ffff:127.0.0.1]",
        "http://gw.internal",
    ):
        with pytest.raises(ValidationFailed, match="public address"):
            check_host(url)
    assert check_host("https://8.8.8.8:5000") == "https://8.8.8.8:5000"


def test_keys_with_a_non_http_gateway_are_refused(auth_client):
    body = {"provider": "openalgo", "api_key": DEFAULT_KEY, "host_url": "file:///etc/passwd"}
    response = auth_client.post("/api/keys", body, format="json")
    assert response.status_code == 400 and "host_url" in response.json()["details"]


def test_public_adapter_says_a_gateway_is_needed(settings):
    settings.OPENALGO_DATA_HOST_URL = ""
    exchange = public_exchange("openalgo")
    with pytest.raises(ProviderError, match="your own gateway"):
        exchange.ping()
    with pytest.raises(ProviderError, match="OPENALGO_DATA_HOST_URL"):
        exchange.fetch_ticker("RELIANCE/INR")


def test_shared_market_data_from_the_operators_gateway(settings, fake_openalgo):
    """Live bots' candles come from the operator's gateway (trusted: private addresses are fine there)."""
    settings.OPENALGO_ALLOW_PRIVATE_HOSTS = False
    settings.OPENALGO_DATA_HOST_URL, settings.OPENALGO_DATA_API_KEY = fake_openalgo.url, DEFAULT_KEY
    feed = market_data("openalgo", "live")
    assert feed.fetch_ticker("TCS/INR")["last"] == 4100
    assert len(feed.fetch_ohlcv("TCS/INR", "1m", 30)) == 30
