"""The Alpaca adapter: the real alpaca-py SDK against the fake Alpaca over real HTTP. Login (keys), test connection,
balance, place, cancel, order status, positions, market clock, a rejected order, whole shares, a 5xx, a timeout."""

import itertools
from datetime import datetime
from decimal import Decimal

import pytest

from amarktai.errors import AuthInvalid, InsufficientFunds, NotFound, ProviderError, ValidationFailed
from tests.fake_alpaca.fixtures import alpaca_via_fake, fake_alpaca  # noqa: F401
from tests.fake_alpaca.server import DEFAULT_KEY, DEFAULT_SECRET
from trading.exchanges import connect, get_exchange, public_exchange
from trading.exchanges.alpaca_adapter import AlpacaExchange, alpaca_symbol, unified_symbol
from trading.exchanges.base import KeySet
from trading.platforms import get_platform

pytestmark = pytest.mark.django_db


def keys(key=DEFAULT_KEY, secret=DEFAULT_SECRET, environment="paper"):
    return KeySet("alpaca", key, secret, extras={"environment": environment})


@pytest.fixture
def ex(alpaca_via_fake):
    return connect("alpaca", keys())


def test_platform_and_provider_entries():
    platform = get_platform("alpaca")
    assert platform.kind == "stock" and platform.adapter == "alpaca" and platform.quote == "USD"
    assert {"AAPL/USD", "MSFT/USD", "TSLA/USD", "SPY/USD", "BTC/USD", "ETH/USD"} == set(platform.symbols)
    entry = platform.provider_entry()
    assert entry["type"] == "broker" and entry["required_fields"] == ["api_key", "api_secret"]
    (environment,) = entry["fields"]
    assert environment["name"] == "environment" and environment["choices"] == ["paper", "live"]
    assert environment["secret"] is False and environment["default"] == "paper"


def test_symbols_map_both_ways():
    assert alpaca_symbol("aapl/usd") == "AAPL" and alpaca_symbol("BTC/USD") == "BTC/USD"
    assert unified_symbol("AAPL") == "AAPL/USD" and unified_symbol("BTCUSD") == "BTC/USD"
    assert unified_symbol("ETH/USD") == "ETH/USD"


def test_environment_picks_alpacas_paper_or_live_host(settings):
    settings.ALPACA_BASE_URL = ""
    paper = connect("alpaca", keys())
    live = connect("alpaca", keys(environment="live"))
    assert paper.trading._base_url == "https://paper-api.alpaca.markets"
    assert live.trading._base_url == "https://api.alpaca.markets"
    assert paper.stocks._base_url == "https://data.alpaca.markets"
    assert DEFAULT_SECRET not in repr(paper) and DEFAULT_KEY not in repr(paper)


def test_test_connection_reports_the_account_and_permissions(ex, fake_alpaca):
    result = ex.test_connection()
    assert result["permissions"] == {"read": True, "trade": True, "withdraw": False}
    assert result["account"].startswith("Alpaca paper account ****") and "(active)" in result["account"]
    fake_alpaca.add_account("PKBLOCKED", "blocked-secret", trading_blocked=True)
    blocked = connect("alpaca", keys("PKBLOCKED", "blocked-secret")).test_connection()
    assert blocked["permissions"]["trade"] is False and "trading blocked" in blocked["account"]
    with pytest.raises(AuthInvalid):
        connect("alpaca", keys(secret="wrong")).test_connection()
    with pytest.raises(AuthInvalid):
        public_exchange("alpaca").test_connection()


def test_market_clock(ex, fake_alpaca):
    clock = ex.market_clock("AAPL/USD")
    assert clock["is_open"] is True and isinstance(clock["next_close"], datetime) and "09:30" in clock["session"]
    fake_alpaca.market_open = False
    closed = ex.market_clock("AAPL/USD")
    assert closed["is_open"] is False and closed["next_open"] > datetime.now(closed["next_open"].tzinfo)
    assert ex.market_clock("BTC/USD")["session"] == "24/7"  # crypto never closes, no call made
    assert fake_alpaca.count("GET", "/v2/clock") == 2


def test_markets_ticker_and_candles(ex, fake_alpaca):
    markets = ex.load_markets()
    aapl, btc = markets["AAPL/USD"], markets["BTC/USD"]
    assert aapl["amount_precision"] == 1 and aapl["min_amount"] == 1 and aapl["price_precision"] == Decimal("0.01")
    assert btc["amount_precision"] == Decimal("0.0001") and btc["min_amount"] == Decimal("0.0001")
    fake_alpaca.set_price("AAPL", "200")
    ticker = ex.fetch_ticker("AAPL/USD")
    assert ticker == {**ticker, "symbol": "AAPL/USD", "bid": Decimal("199.99"), "ask": Decimal("200.01")}
    assert ticker["last"] == Decimal("200")
    assert ex.fetch_ticker("BTC/USD")["bid"] > 1000
    for symbol, timeframe, seconds in (("MSFT/USD", "5m", 300), ("ETH/USD", "1h", 3600)):
        candles = ex.fetch_ohlcv(symbol, timeframe, 12)
        assert len(candles) == 12 and all(isinstance(v, Decimal) for row in candles for v in row[1:])
        assert all(b[0] - a[0] == seconds * 1000 for a, b in itertools.pairwise(candles))  # oldest first
    since = ex.fetch_ohlcv("AAPL/USD", "1m", 5, since=candles[0][0])
    assert len(since) == 5 and since[0][0] >= candles[0][0]
    with pytest.raises(ValidationFailed):
        ex.fetch_ticker("NVDA/USD")  # not in the catalogue


def test_public_data_keyless_for_crypto_and_needs_keys_for_stocks(alpaca_via_fake, settings):
    public = public_exchange("alpaca")
    assert public.fetch_ticker("BTC/USD")["ask"] > 0 and public.ping() >= 0
    with pytest.raises(ProviderError, match="ALPACA_DATA_KEY_ID"):
        public.fetch_ticker("AAPL/USD")
    settings.ALPACA_DATA_KEY_ID, settings.ALPACA_DATA_SECRET_KEY = DEFAULT_KEY, DEFAULT_SECRET
    assert public_exchange("alpaca").fetch_ticker("AAPL/USD")["ask"] > 0


def test_place_status_balance_positions_and_cancel(ex, fake_alpaca):
    fake_alpaca.set_price("AAPL", "100")
    order = ex.create_order("AAPL/USD", "market", "buy", "10.9")  # whole shares: 10
    assert order["status"] == "closed" and order["amount"] == 10 and order["filled"] == 10
    assert order["average"] == Decimal("100.01") and order["cost"] == Decimal("1000.10")
    assert order["symbol"] == "AAPL/USD" and order["client_order_id"].startswith("amk")
    assert ex.fetch_order(order["id"])["status"] == "closed"
    balance = ex.fetch_balance()
    assert balance["USD"]["total"] == Decimal("100000") - Decimal("1000.10")
    assert balance["AAPL"] == {"free": Decimal(10), "used": Decimal(0), "total": Decimal(10)}
    assert ex.fetch_positions() == [
        {"symbol": "AAPL/USD", "amount": 10, "entry_price": Decimal("100.01"), "unrealised_pnl": Decimal("-0.10")}
    ]
    resting = ex.create_order("AAPL/USD", "limit", "buy", 3, "90.005", client_order_id="amk-own-id")
    assert resting["status"] == "open" and resting["price"] == Decimal("90.00")  # a buy's limit rounded down
    assert resting["client_order_id"] == "amk-own-id"
    assert [o["id"] for o in ex.fetch_open_orders("AAPL/USD")] == [resting["id"]]
    assert ex.fetch_balance()["USD"]["free"] == balance["USD"]["total"] - Decimal(270)  # held for the limit
    canceled = ex.cancel_order(resting["id"], "AAPL/USD")
    assert canceled["status"] == "canceled" and ex.fetch_open_orders() == []
    with pytest.raises(NotFound):
        ex.fetch_order("00000000-0000-0000-0000-000000000000")
    crypto = ex.create_order("BTC/USD", "market", "buy", "0.00123")
    assert crypto["status"] == "closed" and crypto["amount"] == Decimal("0.0012")
    assert fake_alpaca.orders[crypto["id"]]["time_in_force"] == "gtc"
    assert fake_alpaca.orders[order["id"]]["time_in_force"] == "day"
    sold = ex.create_order("AAPL/USD", "market", "sell", 10)
    assert sold["status"] == "closed" and "AAPL" not in ex.fetch_balance()


def test_stop_orders_and_time_in_force_options(ex, fake_alpaca):
    class Options:
        time_in_force = "gtc"
        stop_price = Decimal("150")

    stop = ex.create_order("MSFT/USD", "stop", "buy", 1, options=Options())
    sent = fake_alpaca.orders[stop["id"]]
    assert sent["type"] == "stop" and sent["stop_price"] == "150" and sent["time_in_force"] == "gtc"
    with pytest.raises(ValidationFailed, match="stop price"):
        ex.create_order("MSFT/USD", "stop", "buy", 1)


def test_less_than_one_share_is_refused_before_sending(ex, fake_alpaca):
    with pytest.raises(ValidationFailed, match="whole shares") as caught:
        ex.create_order("TSLA/USD", "market", "buy", "0.7")
    assert caught.value.details == {"amount": ["below one whole share"]}
    assert fake_alpaca.count("POST", "/v2/orders") == 0


def test_rejected_and_unaffordable_orders(ex, fake_alpaca):
    fake_alpaca.fail_next("reject", path="/v2/orders", method="POST")
    with pytest.raises(ProviderError, match="Alpaca rejected create_order: order rejected"):
        ex.create_order("AAPL/USD", "market", "buy", 1)
    with pytest.raises(InsufficientFunds):
        ex.create_order("SPY/USD", "market", "buy", 1000)
    with pytest.raises(InsufficientFunds):
        ex.create_order("SPY/USD", "market", "sell", 1)  # nothing held
    assert fake_alpaca.orders_posted == 0


def test_bad_keys_are_auth_invalid(alpaca_via_fake):
    bad = connect("alpaca", keys(secret="nope"))
    for call in (bad.fetch_balance, lambda: bad.create_order("AAPL/USD", "market", "buy", 1)):
        with pytest.raises(AuthInvalid):
            call()


def test_a_5xx_is_retried_then_reported(ex, fake_alpaca):
    fake_alpaca.fail_next("503", times=1, path="/v2/account")
    assert ex.fetch_balance()["USD"]["total"] == 100000  # one retry got through
    fake_alpaca.fail_next("500", times=10, path="/v2/account")
    with pytest.raises(ProviderError, match="not reachable"):
        AlpacaExchange(get_platform("alpaca"), DEFAULT_KEY, DEFAULT_SECRET, max_retries=1).fetch_balance()


def test_a_timeout_is_a_provider_error(ex, fake_alpaca, settings):
    settings.EXCHANGE_TIMEOUT_MS = 300
    slow = connect("alpaca", keys(), max_retries=0)
    fake_alpaca.fail_next("timeout", delay=1.0, path="/v2/positions")
    with pytest.raises(ProviderError, match="Timeout"):
        slow.fetch_balance()


def test_an_order_whose_answer_timed_out_is_found_not_sent_twice(ex, fake_alpaca, settings):
    settings.EXCHANGE_TIMEOUT_MS = 400
    slow = connect("alpaca", keys())
    fake_alpaca.fail_next("timeout_after", delay=1.0, path="/v2/orders", method="POST")
    order = slow.create_order("AAPL/USD", "market", "buy", 2)
    assert order["status"] == "closed" and fake_alpaca.orders_posted == 1
    assert fake_alpaca.count("GET", "/v2/orders:by_client_order_id") == 1
    # An order the broker never got (5xx before acting) is sent again under the same client id.
    fake_alpaca.fail_next("503", path="/v2/orders", method="POST")
    again = slow.create_order("AAPL/USD", "market", "buy", 1, client_order_id="amk-resend")
    assert again["client_order_id"] == "amk-resend" and fake_alpaca.orders_posted == 2


def test_live_get_exchange_uses_the_stored_credential(user, alpaca_via_fake):
    from wallets.services.credentials import create_credential

    create_credential(user, "alpaca", DEFAULT_KEY, DEFAULT_SECRET, extra={"environment": "live"})
    exchange = get_exchange(user, "alpaca", "live")
    assert isinstance(exchange, AlpacaExchange) and exchange.environment == "live"
    assert exchange.fetch_balance()["USD"]["total"] == 100000


def test_only_the_adapter_imports_the_sdk():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    importers = set()
    for path in root.rglob("*.py"):
        relative = path.relative_to(root)
        if relative.parts[0] in {".venv", "tests", "node_modules"} or relative.parts[0].startswith("."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            if any(name == "alpaca" or name.startswith("alpaca.") for name in names):
                importers.add(str(relative))
    assert importers == {"trading/exchanges/alpaca_adapter.py"}
