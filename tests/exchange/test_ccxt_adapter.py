"""The ccxt adapter against the fake Binance over real HTTP: every method, rounding/limits, and each failure mode."""

import itertools
import time
from decimal import Decimal

import pytest

from amarktai.errors import AuthInvalid, InsufficientFunds, NotFound, ProviderError, ValidationFailed
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error
from trading.exchanges.ccxt_adapter import CcxtExchange, _override_urls
from trading.exchanges.resilience import CircuitBreaker, TokenBucket

pytestmark = pytest.mark.django_db


@pytest.fixture
def ex(binance_via_fake):
    return CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET)


def test_url_override_keeps_paths():
    urls = {"public": "https://api.binance.com/api/v3", "nested": {"x": "https://x.binance.com/sapi/v1"}, "n": None}
    out = _override_urls(urls, "http://127.0.0.1:9999/")
    assert out == {
        "public": "http://127.0.0.1:9999/api/v3",
        "nested": {"x": "http://127.0.0.1:9999/sapi/v1"},
        "n": None,
    }


def test_markets_ticker_ohlcv(ex, binance_via_fake):
    markets = ex.load_markets()
    btc = markets["BTC/USDT"]
    assert btc["amount_precision"] == Decimal("0.00001") and btc["price_precision"] == Decimal("0.01")
    assert btc["min_amount"] == Decimal("0.00001") and btc["min_cost"] == Decimal("5")
    ticker = ex.fetch_ticker("BTC/USDT")
    assert isinstance(ticker["bid"], Decimal) and ticker["bid"] < ticker["ask"]
    assert ticker["bid"] <= ticker["last"] <= ticker["ask"]
    candles = ex.fetch_ohlcv("BTC/USDT", "5m", 10)
    assert len(candles) == 10
    assert all(isinstance(v, Decimal) for row in candles for v in row[1:])
    assert all(b[0] - a[0] == 300_000 for a, b in itertools.pairwise(candles))
    assert all(r[3] <= min(r[1], r[4]) and r[2] >= max(r[1], r[4]) for r in candles)
    # markets are cached: a second adapter does not reload them
    CcxtExchange("binance").fetch_ticker("ETH/USDT")
    assert binance_via_fake.count("GET", "/api/v3/exchangeInfo") == 1
    with pytest.raises(ValidationFailed):
        ex.fetch_ticker("DOGE/USDT")


def test_balance_and_orders_round_trip(ex, binance_via_fake):
    balance = ex.fetch_balance()
    assert balance["USDT"] == {"free": Decimal("10000"), "used": Decimal("0"), "total": Decimal("10000")}
    binance_via_fake.set_price("BTCUSDT", "50000")
    order = ex.create_order("BTC/USDT", "market", "buy", Decimal("0.0100004"), client_order_id="bot-1-buy")
    assert order["status"] == "closed" and order["amount"] == Decimal("0.01")  # rounded down to the lot step
    assert order["client_order_id"] == "bot-1-buy" and order["average"] == Decimal("50000.01")
    assert order["fee"]["currency"] == "USDT" and order["fee"]["cost"] > 0

    limit = ex.create_order("BTC/USDT", "limit", "buy", "0.01", "40000.004")
    assert limit["status"] == "open" and limit["price"] == Decimal("40000")
    assert ex.fetch_balance()["USDT"]["used"] == Decimal("400")
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [limit["id"]]
    assert ex.fetch_order(limit["id"], "BTC/USDT")["status"] == "open"
    canceled = ex.cancel_order(limit["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert ex.fetch_open_orders("BTC/USDT") == []
    assert ex.fetch_balance()["USDT"]["used"] == Decimal("0")
    with pytest.raises(NotFound):
        ex.fetch_order("999999", "BTC/USDT")


def test_limits_checked_before_sending(ex, binance_via_fake):
    binance_via_fake.set_price("BTCUSDT", "50000")
    with pytest.raises(ValidationFailed):
        ex.create_order("BTC/USDT", "market", "buy", "0.000001")  # below the lot step
    with pytest.raises(ValidationFailed):
        ex.create_order("BTC/USDT", "limit", "buy", "0.00002", "100")  # value 0.002 < min notional 5
    with pytest.raises(ValidationFailed):
        ex.create_order("BTC/USDT", "limit", "buy", "0.01", None)
    assert binance_via_fake.count("POST", "/api/v3/order") == 0


def test_rounding_to_the_market_steps(ex, binance_via_fake):
    """Amounts round down to the lot step; a limit price to the tick towards the user's side (never a worse limit)."""
    binance_via_fake.set_price("BTCUSDT", "50000")
    market = ex.load_markets()["BTC/USDT"]
    assert ex.check_order(market, "limit", "buy", "0.0100099", "40000.019") == (Decimal("0.01"), Decimal("40000.01"))
    assert ex.check_order(market, "limit", "sell", "0.0100099", "40000.011") == (Decimal("0.01"), Decimal("40000.02"))
    assert ex.check_order(market, "market", "buy", "0.01", "1") == (Decimal("0.01"), None)  # no price at market
    half_ticks = {**market, "price_precision": Decimal("0.5"), "amount_precision": Decimal("0.25"), "min_amount": None}
    assert ex.check_order(half_ticks, "limit", "buy", "1.3", "100.7") == (Decimal("1.25"), Decimal("100.5"))
    assert ex.check_order(half_ticks, "limit", "sell", "1.3", "100.2") == (Decimal("1.25"), Decimal("100.5"))
    with pytest.raises(ValidationFailed) as err:
        ex.check_order(half_ticks, "limit", "buy", "0.2", "100")
    assert err.value.details == {"amount": ["below the minimum"]}
    with pytest.raises(ValidationFailed) as err:
        ex.check_order(market, "limit", "buy", "0.01", "NaN")
    assert err.value.details == {"price": ["invalid"]}


def test_enums_are_checked_at_the_api_edge(auth_client, user, binance_via_fake):
    """side and type are the input serializer's rule (the adapter trusts them, the bot engine passes constants): an
    order with another value never reaches the exchange; the same order with valid ones does."""
    user.system_mode = "live_trading"
    user.save(update_fields=["system_mode"])
    keys = auth_client.post(
        "/api/keys", {"provider": "binance", "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET}, format="json"
    )
    assert keys.status_code == 201, keys.content
    binance_via_fake.set_price("BTCUSDT", "50000")
    order = {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "amount": 0.01,
        "price": 40000,
    }
    for field, value in (("type", "trailing_stop"), ("side", "hold")):
        body = assert_error(
            auth_client.post("/api/orders", {**order, field: value}, format="json"), 400, "VALIDATION_ERROR"
        )
        assert field in body["details"]
    assert binance_via_fake.count("POST", "/api/v3/order") == 0
    placed = auth_client.post("/api/orders", order, format="json")
    assert placed.status_code == 201, placed.content
    assert placed.json()["order"]["status"] == "open" and binance_via_fake.count("POST", "/api/v3/order") == 1


def test_insufficient_funds_translated(ex, binance_via_fake):
    binance_via_fake.set_price("BTCUSDT", "50000")
    with pytest.raises(InsufficientFunds):
        ex.create_order("BTC/USDT", "market", "buy", "1")


def test_bad_key_is_auth_invalid(binance_via_fake):
    with pytest.raises(AuthInvalid) as err:
        CcxtExchange("binance", "wrong-key", DEFAULT_SECRET).fetch_balance()
    assert err.value.message == "Invalid API credentials"
    with pytest.raises(AuthInvalid):  # right key, wrong secret: the signature is rejected
        CcxtExchange("binance", DEFAULT_KEY, "wrong-secret").fetch_balance()
    binance_via_fake.fail_next("bad_key")
    with pytest.raises(AuthInvalid):
        CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET).fetch_balance()
    with pytest.raises(AuthInvalid):  # private call without keys
        CcxtExchange("binance").fetch_balance()


def test_timeout_is_retried_then_succeeds(binance_via_fake, settings):
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, timeout_ms=300)
    ex.load_markets()
    binance_via_fake.fail_next("timeout", times=2, delay=0.6, path="/api/v3/account")
    assert ex.fetch_balance()["USDT"]["total"] == Decimal("10000")
    assert binance_via_fake.count("GET", "/api/v3/account") == 3


def test_timeout_retries_exhausted_is_provider_error(binance_via_fake):
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, timeout_ms=300, max_retries=2)
    ex.load_markets()
    binance_via_fake.fail_next("timeout", times=5, delay=0.6, path="/api/v3/account")
    with pytest.raises(ProviderError):
        ex.fetch_balance()
    assert binance_via_fake.count("GET", "/api/v3/account") == 3  # first try + 2 retries


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors_retried(ex, binance_via_fake, kind):
    ex.load_markets()
    binance_via_fake.fail_next(kind, times=1, path="/api/v3/ticker/24hr")
    assert ex.fetch_ticker("BTC/USDT")["last"] > 0
    assert binance_via_fake.count("GET", "/api/v3/ticker/24hr") == 2


def test_429_backs_off_longer(ex, binance_via_fake, settings):
    """A 429 without Retry-After backs the platform off EXCHANGE_RATE_BACKOFF_SECONDS, doubled on a repeat; the retry
    waits for it (trading.exchanges.ratelimit) instead of sleeping its own way."""
    settings.EXCHANGE_RATE_BACKOFF_SECONDS = 0.1
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET)
    ex.load_markets()
    binance_via_fake.fail_next("429", times=2, path="/api/v3/ticker/24hr")
    started = time.monotonic()
    assert ex.fetch_ticker("BTC/USDT")["last"] > 0
    assert time.monotonic() - started >= 0.3  # 0.1 then 0.2
    assert binance_via_fake.count("GET", "/api/v3/ticker/24hr") == 3


def test_non_network_errors_not_retried(ex, binance_via_fake):
    binance_via_fake.fail_next("bad_key", times=1, path="/api/v3/account")
    with pytest.raises(AuthInvalid):
        ex.fetch_balance()
    assert binance_via_fake.count("GET", "/api/v3/account") == 1


def test_circuit_opens_after_failures_and_fails_fast(binance_via_fake, settings):
    settings.EXCHANGE_CIRCUIT_THRESHOLD = 3
    settings.EXCHANGE_CIRCUIT_COOLDOWN_SECONDS = 0.5
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, max_retries=5)
    ex.load_markets()
    binance_via_fake.fail_next("500", times=100, path="/api/v3/ticker/24hr")
    with pytest.raises(ProviderError):
        ex.fetch_ticker("BTC/USDT")
    assert binance_via_fake.count("GET", "/api/v3/ticker/24hr") == 3  # retries stop once the circuit opens
    assert ex.breaker.state() == CircuitBreaker.OPEN
    started = time.monotonic()
    with pytest.raises(ProviderError) as err:
        ex.fetch_ticker("BTC/USDT")
    assert "circuit open" in err.value.message and time.monotonic() - started < 0.1
    assert binance_via_fake.count("GET", "/api/v3/ticker/24hr") == 3  # nothing sent
    # after the cool-down one probe goes out; the exchange is healthy again -> closed
    binance_via_fake._faults.clear()
    time.sleep(0.6)
    assert ex.breaker.state() == CircuitBreaker.HALF_OPEN
    assert ex.fetch_ticker("BTC/USDT")["last"] > 0
    assert ex.breaker.state() == CircuitBreaker.CLOSED


def test_half_open_probe_failure_reopens(binance_via_fake, settings):
    settings.EXCHANGE_CIRCUIT_THRESHOLD = 1
    settings.EXCHANGE_CIRCUIT_COOLDOWN_SECONDS = 0.3
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, max_retries=0)
    ex.load_markets()
    binance_via_fake.fail_next("500", times=2, path="/api/v3/ticker/24hr")
    with pytest.raises(ProviderError):
        ex.fetch_ticker("BTC/USDT")
    time.sleep(0.35)
    with pytest.raises(ProviderError):
        ex.fetch_ticker("BTC/USDT")  # the probe fails
    assert ex.breaker.state() == CircuitBreaker.OPEN


def test_create_order_timeout_after_send_finds_order_no_duplicate(ex, binance_via_fake):
    binance_via_fake.set_price("BTCUSDT", "50000")
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, timeout_ms=300)
    ex.load_markets()
    binance_via_fake.fail_next("timeout_after", times=1, delay=0.6, path="/api/v3/order", method="POST")
    order = ex.create_order("BTC/USDT", "market", "buy", "0.01", client_order_id="tick-42")
    assert order["client_order_id"] == "tick-42" and order["status"] == "closed"
    assert binance_via_fake.count("POST", "/api/v3/order") == 1  # looked up, never re-sent
    assert len(binance_via_fake.orders) == 1
    assert ex.fetch_balance()["BTC"]["total"] == Decimal("0.51")


def test_create_order_5xx_before_send_confirmed_absent_then_resent_once(ex, binance_via_fake):
    binance_via_fake.set_price("BTCUSDT", "50000")
    ex.load_markets()
    binance_via_fake.fail_next("503", times=1, path="/api/v3/order", method="POST")
    order = ex.create_order("BTC/USDT", "market", "buy", "0.01", client_order_id="tick-43")
    assert order["status"] == "closed"
    assert binance_via_fake.count("POST", "/api/v3/order") == 2
    assert binance_via_fake.count("GET", "/api/v3/order") == 1
    assert len(binance_via_fake.orders) == 1


def test_create_order_unknown_state_is_not_resent(ex, binance_via_fake):
    binance_via_fake.set_price("BTCUSDT", "50000")
    ex.load_markets()
    binance_via_fake.fail_next("503", times=1, path="/api/v3/order", method="POST")
    binance_via_fake.fail_next("503", times=50, path="/api/v3/order", method="GET")
    binance_via_fake.fail_next("503", times=50, path="/api/v3/openOrders")
    with pytest.raises(ProviderError) as err:
        ex.create_order("BTC/USDT", "market", "buy", "0.01", client_order_id="tick-44")
    assert "unknown" in err.value.message
    assert binance_via_fake.count("POST", "/api/v3/order") == 1


def test_token_bucket_limits_rate():
    bucket = TokenBucket(rate=50, burst=2)
    started = time.monotonic()
    for _ in range(7):
        assert bucket.acquire()
    assert time.monotonic() - started >= 0.09  # 5 tokens beyond the burst at 50/s
    empty = TokenBucket(rate=0.1, burst=1)
    assert empty.acquire() and not empty.acquire(max_wait=0.01)


def test_kucoin_needs_passphrase():
    with pytest.raises(ValidationFailed):
        CcxtExchange("kucoin", "k", "s")
    assert CcxtExchange("kucoin", "k", "s", passphrase="p").client.password == "p"


def test_unknown_platform():
    with pytest.raises(ValidationFailed):
        CcxtExchange("mtgox")
