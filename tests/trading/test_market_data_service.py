"""The market-data service (trading.marketdata) against the fake Binance's real WebSocket streams through real ccxt.pro:
one connection serves every bot of every market, a dropped connection reconnects and back-fills the candle gap over
REST, a stale feed stops a live bot's tick with a reason, and offline the simulated feed is streamed the same way."""

import time
from decimal import Decimal

import pytest
from django.core.cache import cache

from bots import engine
from bots.models import Bot, BotStatus
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange, streams_via_fake  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from trading import marketcache, marketdata
from trading.exchanges import simfeed, streams
from trading.health import check_market_data
from trading.models import Order
from wallets.models import ExchangeCredential

KLINES = "/api/v3/klines"
MARKETS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "BNB/USDT"]
MINUTE = 60_000


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def fresh(symbol, source="live", exchange="binance"):
    entry = marketcache.candles_entry(exchange, symbol, "1m", max_age=marketcache.stale_seconds())
    ticker = marketcache.ticker_entry(exchange, symbol, max_age=marketcache.stale_seconds())
    return bool(entry and entry["rows"] and entry["source"] == source and ticker and ticker["source"] == source)


@pytest.fixture
def service(monkeypatch):
    monkeypatch.setattr(marketdata, "BACKOFF_BASE", 0.05)
    running = []

    def start():
        svc = marketdata.MarketDataService(refresh=0.2).start_thread()
        running.append(svc)
        return svc

    yield start
    for svc in running:
        svc.stop()


def bots_on(user, markets, per_market, mode="paper"):
    rows = [
        Bot(
            user=user,
            name=f"{symbol} {i}",
            exchange="binance",
            symbol=symbol,
            trading_mode=mode,
            strategy="momentum",
            initial_capital=Decimal("1000"),
            current_capital=Decimal("1000"),
            status=BotStatus.ACTIVE,
        )
        for symbol in markets
        for i in range(per_market)
    ]
    Bot.objects.bulk_create(rows)
    return {symbol: [str(b.pk) for b in Bot.objects.filter(symbol=symbol)] for symbol in markets}


def pinned(last_open, count):
    """``count`` one-minute candles [ms, o, h, l, c, v] (Decimal) ending with the one opened at ``last_open``."""
    rows = []
    for i in range(count):
        ts = last_open - (count - 1 - i) * MINUTE
        price = Decimal(50000 + i)
        rows.append([ts, price, price + 5, price - 5, price + 1, Decimal("2")])
    return rows


@pytest.mark.django_db(transaction=True)
def test_one_connection_serves_200_bots_on_5_markets(user, streams_via_fake, settings, service):
    settings.MARKET_DATA_SOURCE = "live"  # paper bots on the exchange's live data: streamed from the fake
    groups = bots_on(user, MARKETS, 40)
    assert sum(len(ids) for ids in groups.values()) == 200

    fake = streams_via_fake
    ids = {s.replace("/", "").lower() for s in MARKETS}
    subscribed = {f"{i}@ticker" for i in ids} | {f"{i}@kline_1m" for i in ids}
    svc = service()
    wait_for(lambda: all(fresh(symbol) for symbol in MARKETS), what="every market streamed")
    wait_for(lambda: fake.streams.streams() == subscribed, what="every stream subscribed")

    assert fake.streams.connections == 1 and fake.streams.open_connections() == 1
    assert fake.count("GET", KLINES) == 5  # one back-fill per market; after that the candles come from the stream
    (feed,) = svc.feeds.values()
    assert feed.kind == "stream" and sorted(feed.markets) == sorted(MARKETS)
    book = marketcache.book("binance", "BTC/USDT")
    assert book["bids"][0][0] < book["asks"][0][0]

    outcomes = {}
    for symbol, bot_ids in groups.items():
        for outcome, n in engine.tick_group("binance", symbol, "1m", bot_ids).items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    assert "error" not in outcomes and sum(outcomes.values()) == 200
    assert fake.count("GET", KLINES) == 5  # 200 ticks, no candle fetched over REST
    assert fake.streams.connections == 1
    assert Bot.objects.filter(last_tick_at__isnull=False, failure_count=0).count() == 200


@pytest.mark.django_db(transaction=True)
def test_a_dropped_connection_reconnects_and_back_fills_the_gap(user, streams_via_fake, settings, service):
    settings.MARKET_DATA_SOURCE = "live"
    fake = streams_via_fake
    last_closed = int(time.time() * 1000) // MINUTE * MINUTE - MINUTE
    first_end = last_closed - 4 * MINUTE
    fake.candles["BTCUSDT"] = pinned(first_end, 200)
    bots_on(user, ["BTC/USDT"], 1)

    svc = service()
    wait_for(lambda: fresh("BTC/USDT"), what="the market streamed")
    rows = marketcache.candles("binance", "BTC/USDT", "1m", 1000)
    assert rows[-1][0] == first_end and len(rows) == 200
    fetched = fake.count("GET", KLINES)

    # While the connection is down the exchange closes four more candles the stream never sends.
    fake.streams.pause()
    fake.candles["BTCUSDT"] = pinned(last_closed, 204)
    fake.streams.drop()
    fake.streams.resume()

    wait_for(lambda: fake.streams.connections == 2 and fake.streams.open_connections() == 1, what="the reconnect")
    wait_for(lambda: marketcache.candles("binance", "BTC/USDT", "1m", 1000)[-1][0] == last_closed, what="the back-fill")
    rows = marketcache.candles("binance", "BTC/USDT", "1m", 1000)
    opens = [int(r[0]) for r in rows]
    assert opens == list(range(opens[0], last_closed + MINUTE, MINUTE))  # no hole in the series
    assert fake.count("GET", KLINES) == fetched + 1  # the gap, in one REST call
    (feed,) = svc.feeds.values()
    assert feed.reconnects >= 1 and feed.connections == 2 and "Error" in feed.last_error
    wait_for(lambda: fresh("BTC/USDT"), what="streaming again")


@pytest.mark.django_db(transaction=True)
def test_a_stale_feed_stops_a_live_bots_tick_and_says_why(user, streams_via_fake, settings, service):
    settings.MARKET_DATA_STALE_SECONDS = 1.0
    fake = streams_via_fake
    credential = ExchangeCredential(user=user, platform="binance", keys_valid=True)
    credential.api_key, credential.api_secret = DEFAULT_KEY, DEFAULT_SECRET
    credential.save()
    (bot_id,) = bots_on(user, ["BTC/USDT"], 1, mode="live")["BTC/USDT"]

    service()
    wait_for(lambda: fresh("BTC/USDT"), what="the market streamed")
    fetched = fake.count("GET", KLINES)
    assert "error" not in engine.tick_group("binance", "BTC/USDT", "1m", [bot_id])  # decides on streamed candles
    assert fake.count("GET", KLINES) == fetched
    orders = Order.objects.filter(bot_id=bot_id).count()

    # The exchange goes quiet: its stream sends nothing and its REST candles fail (no back-fill either).
    fake.fail_next("503", times=10_000, path=KLINES)
    fake.streams.pause()
    wait_for(lambda: not fresh("BTC/USDT"), what="the data to go stale")

    assert engine.tick_group("binance", "BTC/USDT", "1m", [bot_id]) == {"error": 1}
    bot = Bot.objects.get(pk=bot_id)
    assert "stale market data" in bot.last_error and "MARKET_DATA_STALE_SECONDS" in bot.last_error
    assert bot.failure_count == 1
    assert Order.objects.filter(bot_id=bot_id).count() == orders  # nothing decided on old data


@pytest.mark.django_db
def test_a_live_bot_without_streamed_data_fails_and_a_paper_bot_falls_back(user, settings):
    settings.MARKET_DATA_SERVICE = True
    settings.MARKET_DATA_SOURCE = "simulated"
    with pytest.raises(marketcache.StaleMarketData, match="not streamed them yet"):
        engine.candles_for("binance", "BTC/USDT", "1m", "live")
    # Paper bots on the simulated feed compute it when the service has not streamed it.
    assert len(engine.candles_for("luno", "BTC/ZAR", "1m", "simulated")) == engine.CANDLES
    # Live candles in the cache do not stand in for the simulated feed (and the other way round).
    marketcache.put_candles("luno", "BTC/ZAR", "1m", [[0, 1, 1, 1, 1, 1]], source="live")
    assert engine.streamed_candles("luno", "BTC/ZAR", "1m", "simulated") is None
    settings.MARKET_DATA_SERVICE = False
    assert engine.streamed_candles("binance", "BTC/USDT", "1m", "live") is None  # off: REST as before


@pytest.mark.django_db(transaction=True)
def test_offline_the_simulated_feed_is_streamed_the_same_way(user, settings, service, monkeypatch):
    settings.MARKET_DATA_SERVICE = True
    settings.MARKET_DATA_SOURCE = "simulated"
    monkeypatch.setattr(streams, "SIMULATED_INTERVAL", 0.1)
    bots = Bot.objects.create(
        user=user,
        name="offline",
        exchange="luno",
        symbol="BTC/ZAR",
        strategy="momentum",
        initial_capital=Decimal("50000"),
        current_capital=Decimal("50000"),
        status=BotStatus.ACTIVE,
    )
    marketcache.want("kraken", "ETH/USD")  # a chart or a WebSocket subscription

    svc = service()
    wait_for(lambda: fresh("BTC/ZAR", "simulated", "luno") and fresh("ETH/USD", "simulated", "kraken"))
    streamed = marketcache.candles("luno", "BTC/ZAR", "1m", 100)
    expected = [[int(r[0]), *(float(v) for v in r[1:])] for r in simfeed.ohlcv("BTC/ZAR", "1m", 100)]
    assert streamed[-50:-1] == expected[-50:-1] or streamed[-49:] == expected[-49:]
    assert {(f["exchange"], f["kind"]) for f in svc.status()} == {("luno", "simulated"), ("kraken", "simulated")}
    assert engine.tick_group("luno", "BTC/ZAR", "1m", [str(bots.pk)]) in ({"ok": 1}, {"traded": 1})

    def reported():
        feeds = check_market_data()[1].get("feeds", [])
        return len(feeds) == 2 and all(f["kind"] and f["last_message_age"] is not None for f in feeds)

    wait_for(reported, what="the service's status report")
    ok, detail = check_market_data()
    assert ok and detail["status"] == "ok"
    assert {(f["exchange"], f["kind"], f["markets"]) for f in detail["feeds"]} == {
        ("luno", "simulated", 1),
        ("kraken", "simulated", 1),
    }


@pytest.mark.django_db
def test_health_reports_the_service(settings, auth_client):
    settings.MARKET_DATA_SERVICE = False
    assert check_market_data() == (True, {"status": "off"})
    settings.MARKET_DATA_SERVICE = True
    assert check_market_data() == (True, {"status": "not_seen"})
    stalled = {"exchange": "binance", "source": "live", "kind": "stream", "connections": 3, "reconnects": 2}
    stalled |= {"markets": ["BTC/USDT"], "last_message_age": 95.0, "running_seconds": 600.0}
    cache.set(marketdata.STATUS_KEY, {"at": time.time(), "feeds": [stalled]})
    body = auth_client.get("/api/health/components").json()
    assert body["status"] == "degraded"
    assert body["components"]["market_data"]["status"] == "down"
    assert body["components"]["market_data"]["feeds"][0]["reconnects"] == 2


def test_backoff_grows_exponentially_with_full_jitter():
    for attempt in range(8):
        cap = min(marketdata.BACKOFF_MAX, marketdata.BACKOFF_BASE * 2**attempt)
        delays = [marketdata.backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap / 2 and len(set(delays)) > 150  # spread, not one fixed delay


@pytest.mark.django_db(transaction=True)
def test_an_exchange_without_streams_is_polled_over_rest(user, streams_via_fake, settings, monkeypatch):
    """VALR has no ccxt.pro class: its markets are polled through the REST adapter, into the same cache. Here the
    poller is pointed at the fake Binance's REST API to count its calls."""
    assert not streams.streamable("valr") and streams.streamable("binance")
    settings.MARKET_DATA_SOURCE = "live"
    marketcache.want("binance", "ETH/USDT")
    svc = marketdata.MarketDataService(opener=lambda ex, src: streams.PollingStream(ex, interval=0.2), refresh=0.2)
    svc.start_thread()
    try:
        wait_for(lambda: fresh("ETH/USDT"), what="the polled market")
        wait_for(lambda: streams_via_fake.count("GET", "/api/v3/ticker/24hr") >= 2, what="a second poll")
    finally:
        svc.stop()
    assert streams_via_fake.streams.connections == 0  # no WebSocket: polling only
    assert marketcache.ticker("binance", "ETH/USDT")["last"] > 0
