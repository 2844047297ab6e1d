"""GET /api/market/quote, /depth, /ohlcv: served from the shared market-data cache when fresh (no exchange call),
fetched once and written back when stale or missing, field errors for bad input, numbers as JSON numbers."""

import itertools
import time

import pytest

from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.helpers import assert_error
from trading import marketcache
from trading.exchanges import SimulatedMarketData

pytestmark = pytest.mark.django_db


@pytest.fixture
def fetches(monkeypatch):
    """Counts the calls that reach the feed (the simulated exchange), by method; the feed still answers."""
    calls = []
    for name in ("fetch_ticker", "fetch_ohlcv", "fetch_order_book"):
        original = getattr(SimulatedMarketData, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            calls.append((_name, self.platform_id, args[0] if args else kwargs.get("symbol")))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(SimulatedMarketData, name, spy)
    return calls


TICKER = {"symbol": "BTC/ZAR", "last": 1234.5, "bid": 1234.0, "ask": 1235.0, "high": 1300, "low": 1200}


def test_quote_from_a_fresh_cache_calls_no_exchange(auth_client, fetches):
    marketcache.put_ticker("luno", "BTC/ZAR", {**TICKER, "percentage": 2.5, "baseVolume": 10, "timestamp": 1_700_000})
    body = auth_client.get("/api/market/quote", {"exchange": "luno", "symbol": "btc/zar"}).json()
    quote = body["quote"]
    assert body["success"] is True
    assert quote["source"] == "cache" and fetches == []
    prices = (quote["last"], quote["bid"], quote["ask"], quote["high"], quote["low"])
    assert prices == (1234.5, 1234.0, 1235.0, 1300, 1200)
    assert (quote["volume"], quote["change_pct"], quote["exchange"], quote["symbol"]) == (10, 2.5, "luno", "BTC/ZAR")
    assert 0 <= quote["age_seconds"] < 5 and quote["timestamp"].startswith("1970-01-01T00:28")
    assert ("luno", "BTC/ZAR") in marketcache.wanted()  # an open quote/chart keeps its market streamed


def test_stale_quote_is_fetched_once_and_written_back(auth_client, fetches):
    marketcache.put_ticker("luno", "ETH/ZAR", TICKER, at=time.time() - marketcache.stale_seconds() - 5)
    quote = auth_client.get("/api/market/quote", {"exchange": "luno", "symbol": "ETH/ZAR"}).json()["quote"]
    assert quote["source"] == "fetch" and quote["last"] != 1234.5 and quote["last"] > 0
    assert [c[0] for c in fetches].count("fetch_ticker") == 1
    # The day's figures of the simulated feed come from its hourly candles (fetched once, cached too).
    assert quote["high"] >= quote["low"] > 0 and quote["change_pct"] is not None and quote["volume"] > 0
    assert float(marketcache.ticker("luno", "ETH/ZAR", max_age=5)["last"]) == quote["last"]
    fetches.clear()
    again = auth_client.get("/api/market/quote", {"exchange": "luno", "symbol": "ETH/ZAR"}).json()["quote"]
    assert again["source"] == "cache" and again["last"] == quote["last"] and fetches == []


def test_depth_from_cache_and_synthetic_book(auth_client, fetches):
    marketcache.put_book("binance", "BTC/USDT", [[100.0, 1.0], [99.0, 2.0]], [[101.0, 1.5], [102.0, 3.0]])
    depth = auth_client.get("/api/market/depth", {"exchange": "binance", "symbol": "BTC/USDT", "limit": 2}).json()
    assert depth["depth"]["bids"] == [[100.0, 1.0], [99.0, 2.0]] and depth["depth"]["asks"][0] == [101.0, 1.5]
    assert depth["depth"]["source"] == "cache" and fetches == []

    # More levels than the cache holds: one fetch of the synthetic book the paper exchange fills against.
    deep = auth_client.get("/api/market/depth", {"exchange": "binance", "symbol": "BTC/USDT", "limit": 10}).json()
    book = deep["depth"]
    assert book["source"] == "fetch" and [c[0] for c in fetches] == ["fetch_order_book"]
    assert len(book["bids"]) == len(book["asks"]) == 10
    bids, asks = [p for p, _a in book["bids"]], [p for p, _a in book["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert all(isinstance(a, float) and a > 0 for _p, a in book["bids"] + book["asks"])
    assert len(marketcache.book("binance", "BTC/USDT")["bids"]) == 10


def test_ohlcv_fetched_then_cached_oldest_first(auth_client, fetches):
    query = {"exchange": "kraken", "symbol": "ETH/USD", "timeframe": "5m", "limit": 50}
    body = auth_client.get("/api/market/ohlcv", query).json()
    assert body["success"] is True and body["source"] == "fetch"
    assert (body["exchange"], body["symbol"], body["timeframe"]) == ("kraken", "ETH/USD", "5m")
    candles = body["candles"]
    assert len(candles) == 50
    times = [c["time"] for c in candles]
    assert times == sorted(times) and all(b - a == 300 for a, b in itertools.pairwise(times))
    assert times[-1] <= time.time() - 300  # closed candles only
    assert all(isinstance(c[k], float) for c in candles for k in ("open", "high", "low", "close", "volume"))
    assert all(c["low"] <= min(c["open"], c["close"]) and c["high"] >= max(c["open"], c["close"]) for c in candles)
    fetches.clear()
    again = auth_client.get("/api/market/ohlcv", {**query, "limit": 20}).json()
    assert again["source"] == "cache" and fetches == [] and again["candles"] == candles[-20:]


def test_stale_candles_are_refetched(auth_client, fetches):
    old = [[60_000 * m, 1, 2, 0.5, 1.5, 3] for m in range(1000, 1300)]  # long closed candles, written long ago
    marketcache.put_candles("luno", "BTC/ZAR", "1m", old, at=time.time() - 3600)
    body = auth_client.get("/api/market/ohlcv", {"exchange": "luno", "symbol": "BTC/ZAR", "limit": 300}).json()
    assert body["source"] == "fetch" and [c[0] for c in fetches] == ["fetch_ohlcv"]
    assert body["candles"][-1]["time"] > time.time() - 180 and len(body["candles"]) == 300


@pytest.mark.parametrize(
    "path, query, field",
    [
        ("quote", {"symbol": "BTC/ZAR"}, "exchange"),
        ("quote", {"exchange": "mtgox", "symbol": "BTC/ZAR"}, "exchange"),
        ("quote", {"exchange": "luno"}, "symbol"),
        ("quote", {"exchange": "luno", "symbol": "BTC/USDT"}, "symbol"),
        ("depth", {"exchange": "luno", "symbol": "BTC/ZAR", "limit": 0}, "limit"),
        ("depth", {"exchange": "luno", "symbol": "BTC/ZAR", "limit": 101}, "limit"),
        ("depth", {"exchange": "luno", "symbol": "BTC/ZAR", "limit": "1_0"}, "limit"),
        ("ohlcv", {"exchange": "luno", "symbol": "BTC/ZAR", "timeframe": "2m"}, "timeframe"),
        ("ohlcv", {"exchange": "luno", "symbol": "BTC/ZAR", "limit": 1001}, "limit"),
        ("ohlcv", {"exchange": "luno", "symbol": "BTC/ZAR", "limit": "many"}, "limit"),
        ("ohlcv", {"exchange": "luno", "symbol": "DOGE/ZAR", "timeframe": "1h"}, "symbol"),
    ],
)
def test_bad_input_is_a_field_error(auth_client, fetches, path, query, field):
    error = assert_error(auth_client.get(f"/api/market/{path}", query), 400, "VALIDATION_ERROR")
    assert field in error["details"], error
    assert fetches == []


def test_market_reads_need_authentication(api_client):
    for path in ("quote", "depth", "ohlcv"):
        response = api_client.get(f"/api/market/{path}", {"exchange": "luno", "symbol": "BTC/ZAR"})
        assert response.status_code == 401


@pytest.fixture
def live_binance(binance_via_fake, settings):
    settings.MARKET_DATA_SOURCE = "live"
    return binance_via_fake


def test_live_source_reads_the_exchange_once_then_the_cache(auth_client, live_binance):
    fake = live_binance
    quote = auth_client.get("/api/market/quote", {"exchange": "binance", "symbol": "BTC/USDT"}).json()["quote"]
    assert quote["source"] == "fetch" and quote["bid"] < quote["ask"] and quote["high"] >= quote["low"]
    depth = auth_client.get("/api/market/depth", {"exchange": "binance", "symbol": "BTC/USDT", "limit": 5}).json()
    assert depth["depth"]["source"] == "fetch" and len(depth["depth"]["bids"]) == 5
    assert depth["depth"]["bids"][0][0] < depth["depth"]["asks"][0][0]
    candles = auth_client.get("/api/market/ohlcv", {"exchange": "binance", "symbol": "BTC/USDT", "limit": 30}).json()
    assert candles["source"] == "fetch" and len(candles["candles"]) == 30
    counted = (fake.count("GET", "/api/v3/ticker/24hr"), fake.count("GET", "/api/v3/depth"))
    assert counted == (1, 1)
    for path, query in (("quote", {}), ("depth", {"limit": 5}), ("ohlcv", {"limit": 30})):
        again = auth_client.get(f"/api/market/{path}", {"exchange": "binance", "symbol": "BTC/USDT", **query}).json()
        assert (again.get("quote") or again.get("depth") or again)["source"] == "cache"
    assert (fake.count("GET", "/api/v3/ticker/24hr"), fake.count("GET", "/api/v3/depth")) == counted


def test_an_unreachable_exchange_is_a_provider_error(auth_client, live_binance):
    live_binance.fail_next("500", times=50)
    response = auth_client.get("/api/market/depth", {"exchange": "binance", "symbol": "ETH/USDT"})
    error = assert_error(response, response.status_code, response.json()["error_code"])
    assert response.status_code in (502, 503) and error["error_code"] in ("PROVIDER_ERROR", "SERVICE_UNAVAILABLE")
