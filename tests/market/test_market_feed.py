"""WebSocket market subscriptions through the real ASGI app: subscribe/unsubscribe in batches, market_update after a
ticker reaches trading.marketcache, coalescing to MARKET_UPDATES_PER_SECOND per market, the limits per connection and
per user (a subscription flood is refused with a clear message), the markets marked wanted."""

import asyncio
import json
import threading
import time

import pytest

from market import feed
from tests.realtime.conftest import SSEStream, run, token_for, ws_connect, ws_receive
from trading import marketcache

pytestmark = pytest.mark.django_db(transaction=True)


async def _send(comm, message):
    await comm.send_json_to(message)
    return await ws_receive(comm)


async def _no_message(comm, wait=0.3):
    assert await comm.receive_nothing(timeout=wait), "an unexpected message arrived"


def _ticker(last):
    return {"symbol": "BTC/ZAR", "last": last, "bid": last - 1, "ask": last + 1, "percentage": 1.5, "baseVolume": 7}


def test_subscribe_receive_market_update_unsubscribe(user):
    token = token_for(user)

    async def scenario():
        comm = await ws_connect(token=token)
        answer = await _send(comm, {"type": "subscribe", "symbols": ["luno:btc/zar", "binance:ETH/USDT"]})
        assert answer["type"] == "subscribed" and answer["symbols"] == ["luno:BTC/ZAR", "binance:ETH/USDT"]
        assert {("luno", "BTC/ZAR"), ("binance", "ETH/USDT")} <= marketcache.wanted()

        marketcache.put_ticker("luno", "BTC/ZAR", {**_ticker(1000.5), "timestamp": 1_700_000_000_000})
        update = await ws_receive(comm)
        assert update == {
            "type": "market_update",
            "data": {
                "exchange": "luno",
                "symbol": "BTC/ZAR",
                "last": 1000.5,
                "bid": 999.5,
                "ask": 1001.5,
                "change_pct": 1.5,
                "volume": 7.0,
                "timestamp": "2023-11-14T22:13:20.000Z",
            },
        }
        marketcache.put_ticker("kraken", "BTC/USD", _ticker(5))  # a market this connection does not follow
        await _no_message(comm)

        gone = await _send(comm, {"type": "unsubscribe", "symbols": ["luno:BTC/ZAR"]})
        assert gone["type"] == "unsubscribed" and gone["symbols"] == ["luno:BTC/ZAR"]
        assert gone["subscribed"] == ["binance:ETH/USDT"]
        await asyncio.sleep(0.6)  # past the coalescing interval
        marketcache.put_ticker("luno", "BTC/ZAR", _ticker(1001))
        await _no_message(comm)

    run(scenario)


def test_bad_subscriptions_are_clear_errors(user):
    token = token_for(user)

    async def scenario():
        comm = await ws_connect(token=token)
        for symbols, words in [
            (None, "non-empty list"),
            ([], "non-empty list"),
            (["BTC/ZAR"], "malformed"),
            (["mtgox:BTC/USD"], "Unknown"),
            (["luno:DOGE/ZAR", "luno:BTC/ZAR"], "luno:DOGE/ZAR"),
        ]:
            error = await _send(comm, {"type": "subscribe", "symbols": symbols})
            assert error["type"] == "error" and error["error_code"] == "VALIDATION_ERROR", error
            assert words in error["error"], error
        # All or nothing: the batch with one unknown market subscribed to none.
        ok = await _send(comm, {"type": "subscribe", "symbols": ["luno:ETH/ZAR"]})
        assert ok["symbols"] == ["luno:ETH/ZAR"]

    run(scenario)


def test_updates_are_coalesced_per_market(user, settings):
    settings.MARKET_UPDATES_PER_SECOND = 4  # one message per 0.25 s per market
    token = token_for(user)

    async def scenario():
        comm = await ws_connect(token=token)
        await _send(comm, {"type": "subscribe", "symbols": ["luno:BTC/ZAR", "luno:ETH/ZAR"]})
        started = time.monotonic()
        for i in range(50):  # a burst of 50 tickers per market within a few milliseconds
            marketcache.put_ticker("luno", "BTC/ZAR", _ticker(1000 + i))
            marketcache.put_ticker("luno", "ETH/ZAR", {**_ticker(50 + i), "symbol": "ETH/ZAR"})
        received = []
        while True:
            try:
                received.append(await ws_receive(comm, timeout=0.6))
            except TimeoutError:
                break
        elapsed = time.monotonic() - started
        by_market = {}
        for message in received:
            by_market.setdefault(message["data"]["symbol"], []).append(message["data"]["last"])
        # The first ticker at once, then the latest one when the interval has passed: never the 48 in between.
        assert by_market == {"BTC/ZAR": [1000.0, 1049.0], "ETH/ZAR": [50.0, 99.0]}, by_market
        assert elapsed >= 0.25

    run(scenario)


def test_subscription_flood_is_refused(user, settings):
    settings.MARKET_WS_MAX_SYMBOLS_PER_CONNECTION = 3
    settings.MARKET_WS_MAX_SYMBOLS_PER_USER = 5
    token = token_for(user)

    async def scenario():
        first = await ws_connect(token=token)
        # One batch far past the limit: refused before any lookup, nothing subscribed.
        flood = [f"luno:SYM{i}/ZAR" for i in range(10_000)]
        error = await _send(first, {"type": "subscribe", "symbols": flood})
        assert error["type"] == "error" and error["error_code"] == "SUBSCRIPTION_LIMIT"
        assert "at most 3 markets" in error["error"]

        ok = await _send(first, {"type": "subscribe", "symbols": ["luno:BTC/ZAR", "luno:ETH/ZAR"]})
        assert ok["type"] == "subscribed"
        error = await _send(first, {"type": "subscribe", "symbols": ["luno:XRP/ZAR", "luno:SOL/ZAR"]})
        assert error["error_code"] == "SUBSCRIPTION_LIMIT" and "follows 2" in error["error"], error
        # The same market again does not count twice.
        again = await _send(first, {"type": "subscribe", "symbols": ["luno:BTC/ZAR", "luno:XRP/ZAR"]})
        assert again["symbols"] == ["luno:BTC/ZAR", "luno:ETH/ZAR", "luno:XRP/ZAR"]

        # Per user, over all connections: 3 here + 2 there is the limit of 5; a sixth is refused.
        second = await ws_connect(token=token)
        ok = await _send(second, {"type": "subscribe", "symbols": ["binance:BTC/USDT", "binance:ETH/USDT"]})
        assert ok["type"] == "subscribed"
        error = await _send(second, {"type": "subscribe", "symbols": ["binance:SOL/USDT"]})
        assert error["error_code"] == "SUBSCRIPTION_LIMIT" and "over all connections" in error["error"], error
        # The refused connection still works, and a closed one frees its markets.
        await first.disconnect()
        await asyncio.sleep(0.1)
        ok = await _send(second, {"type": "subscribe", "symbols": ["binance:SOL/USDT"]})
        assert ok["type"] == "subscribed" and len(ok["symbols"]) == 3

    run(scenario)


def test_many_rapid_subscribe_messages_stay_bounded(user, settings):
    settings.MARKET_WS_MAX_SYMBOLS_PER_CONNECTION = 4
    token = token_for(user)
    markets = ["luno:BTC/ZAR", "luno:ETH/ZAR", "luno:XRP/ZAR", "luno:SOL/ZAR", "binance:BTC/USDT", "kraken:BTC/USD"]

    async def scenario():
        comm = await ws_connect(token=token)
        for i in range(60):  # a flood of single subscriptions: the connection never follows more than its limit
            await comm.send_json_to({"type": "subscribe", "symbols": [markets[i % len(markets)]]})
        answers = [await ws_receive(comm) for _ in range(60)]
        followed = [a["symbols"] for a in answers if a["type"] == "subscribed"]
        refused = [a for a in answers if a["type"] == "error"]
        assert max(len(s) for s in followed) == 4 and refused and refused[0]["error_code"] == "SUBSCRIPTION_LIMIT"

    run(scenario)


def test_resolve_rejects_unknown_markets():
    assert feed.resolve("luno:eth/zar") == ("luno", "ETH/ZAR")
    for text in ("luno:", "nowhere:BTC/ZAR", "luno:BTC/USDT"):
        with pytest.raises(ValueError):
            feed.resolve(text)


def test_coalescer_unit_latest_wins_and_a_lost_send_does_not_block(settings, monkeypatch):
    """The coalescer alone, with a controlled clock and the sends captured at the channel-layer boundary."""
    settings.MARKET_UPDATES_PER_SECOND = 2
    clock = [100.0]
    sent, later = [], []
    monkeypatch.setattr(feed, "send_to_market", lambda ex, sym, kind, payload: sent.append(payload["last"]))
    monkeypatch.setattr(feed.sender, "later", lambda delay, fn: later.append((delay, fn)))
    coalescer = feed.Coalescer(clock=lambda: clock[0])
    entry = lambda last: {"ticker": _ticker(last), "at": time.time()}  # noqa: E731
    coalescer.offer("luno", "BTC/ZAR", entry(1))
    coalescer.offer("luno", "BTC/ZAR", entry(2))
    coalescer.offer("luno", "BTC/ZAR", entry(3))
    assert sent == [1.0] and len(later) == 1 and later[0][0] == pytest.approx(0.5)
    clock[0] += 0.5
    later.pop()[1]()  # the due send carries the latest ticker only
    assert sent == [1.0, 3.0]
    clock[0] += 0.1
    coalescer.offer("luno", "BTC/ZAR", entry(4))  # within the interval: scheduled...
    assert sent == [1.0, 3.0] and len(later) == 1
    later.clear()  # ...but its event loop went away before it ran
    clock[0] += 5
    coalescer.offer("luno", "BTC/ZAR", entry(5))  # not stuck: sent at once
    assert sent == [1.0, 3.0, 5.0]


def test_limits_are_per_user_and_subscriptions_stay_wanted(user, other_user, settings, monkeypatch):
    settings.MARKET_WS_MAX_SYMBOLS_PER_USER = 2
    from realtime import markets as rt_markets

    monkeypatch.setattr(rt_markets, "RENEW_SECONDS", 0.05)
    wants = []
    original = marketcache.want
    monkeypatch.setattr(marketcache, "want", lambda ex, sym, ttl=120: (wants.append((ex, sym)), original(ex, sym, ttl)))
    mine, theirs = token_for(user), token_for(other_user)

    async def scenario():
        a = await ws_connect(token=mine)
        b = await ws_connect(token=theirs)
        assert (await _send(a, {"type": "subscribe", "symbols": ["luno:BTC/ZAR", "luno:ETH/ZAR"]}))["type"] == (
            "subscribed"
        )
        # Another user's subscriptions never count against this user's limit (nor the other way round).
        answer = await _send(b, {"type": "subscribe", "symbols": ["luno:XRP/ZAR", "luno:SOL/ZAR"]})
        assert answer["type"] == "subscribed", answer
        refused = await _send(a, {"type": "subscribe", "symbols": ["luno:XRP/ZAR"]})
        assert refused["error_code"] == "SUBSCRIPTION_LIMIT"
        # While subscribed, the markets are marked wanted again and again (the market-data service keeps them).
        wants.clear()
        await asyncio.sleep(0.3)
        assert wants.count(("luno", "BTC/ZAR")) >= 2 and wants.count(("luno", "XRP/ZAR")) >= 2

    run(scenario)


def test_a_ticker_written_by_another_thread_reaches_the_subscriber(user):
    """The market-data service writes from its own thread (or process): the update still arrives, on the in-memory
    layer of the embedded default as on Redis."""
    token = token_for(user)

    async def scenario():
        comm = await ws_connect(token=token)
        await _send(comm, {"type": "subscribe", "symbols": ["valr:SOL/ZAR"]})
        writer = threading.Thread(target=marketcache.put_ticker, args=("valr", "SOL/ZAR", _ticker(2500)))
        writer.start()
        writer.join()
        update = await ws_receive(comm)
        assert update["type"] == "market_update" and update["data"]["symbol"] == "SOL/ZAR"
        assert update["data"]["last"] == 2500.0

    run(scenario)


def test_sse_stream_subscribes_with_the_symbols_parameter(user, settings):
    settings.MARKET_WS_MAX_SYMBOLS_PER_CONNECTION = 2
    token = token_for(user)

    async def scenario():
        stream = await SSEStream(query=f"token={token}&symbols=luno:BTC/ZAR,binance:eth/usdt").start()
        assert stream.status == 200
        await stream.events_until("overview_update")
        marketcache.put_ticker("binance", "ETH/USDT", {**_ticker(3000), "symbol": "ETH/USDT"})
        event = await stream.event()
        assert event["event"] == "market_update" and event["data"]["type"] == "market_update"
        assert (event["data"]["data"]["symbol"], event["data"]["data"]["last"]) == ("ETH/USDT", 3000.0)
        assert ("binance", "ETH/USDT") in marketcache.wanted()

        for query, code in (
            ("symbols=luno:NOPE/ZAR", "VALIDATION_ERROR"),
            ("symbols=luno:BTC/ZAR,luno:ETH/ZAR,luno:XRP/ZAR", "SUBSCRIPTION_LIMIT"),
        ):
            refused = await SSEStream(query=f"token={token}&{query}").start()
            body = json.loads(await refused.body())
            assert refused.status == 400 and body["success"] is False and body["error_code"] == code, body
        await stream.close()

    run(scenario)


def test_concurrent_claims_of_one_user_cannot_both_pass_the_user_limit(settings, monkeypatch):
    from realtime import markets as rt_markets

    settings.MARKET_WS_MAX_SYMBOLS_PER_USER = 3
    original = rt_markets.check_limits

    def slow_check(*args):  # widen the race window between reading and recording
        result = original(*args)
        time.sleep(0.05)
        return result

    monkeypatch.setattr(rt_markets, "check_limits", slow_check)
    outcomes = []

    def claim(channel, names):
        try:
            outcomes.append(rt_markets.claim("u1", channel, [], names))
        except rt_markets.SubscriptionError as exc:
            outcomes.append(exc.error_code)

    threads = [
        threading.Thread(target=claim, args=(f"chan{i}", [f"luno:M{i}{j}/ZAR" for j in range(2)])) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for o in outcomes if isinstance(o, list)) == 1, outcomes
    assert outcomes.count("SUBSCRIPTION_LIMIT") == 3
    assert len(rt_markets.user_markets("u1")) == 2
