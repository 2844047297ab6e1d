"""The market fan-out hub (realtime.hub): one publish per market message, whatever the number of subscribers;
each process hands it to its own followers; a consumer that goes away leaves the hub; a slow consumer delays nobody
else. Runs embedded (in-process hand-over) and, with REDIS_URL, over Redis pub/sub (incl. a publish from another
process)."""

import asyncio
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from market import feed
from realtime import hub
from tests.realtime.conftest import run, token_for, ws_connect, ws_receive

pytestmark = pytest.mark.django_db(transaction=True)

MARKET = "luno:BTC/ZAR"


def _payload(last):
    return {
        "exchange": "luno",
        "symbol": "BTC/ZAR",
        "last": last,
        "bid": None,
        "ask": None,
        "change_pct": None,
        "volume": None,
        "timestamp": "2024-01-01T00:00:00.000Z",
    }


async def _subscribe(comm, symbols):
    await comm.send_json_to({"type": "subscribe", "symbols": symbols})
    answer = await ws_receive(comm)
    assert answer["type"] == "subscribed", answer


def _count_publishes(monkeypatch):
    """Count hub.publish calls (the one call per message the writer makes), passing them through."""
    calls = []
    original = hub.publish

    def counting(message):
        calls.append(message)
        original(message)

    monkeypatch.setattr(hub, "publish", counting)
    return calls


def test_two_connections_get_one_message_each_from_one_publish(user, other_user, monkeypatch):
    calls = _count_publishes(monkeypatch)
    before = hub.publisher.published
    mine, theirs = token_for(user), token_for(other_user)

    async def scenario():
        a = await ws_connect(token=mine)
        b = await ws_connect(token=theirs)
        await _subscribe(a, [MARKET])
        await _subscribe(b, [MARKET, "luno:ETH/ZAR"])
        assert len(hub.followers(MARKET)) == 2
        feed.send_to_market("luno", "BTC/ZAR", "market_update", _payload(123.5))
        for comm in (a, b):
            message = await ws_receive(comm)
            assert message == {"type": "market_update", "data": _payload(123.5)}
            assert await comm.receive_nothing(timeout=0.3), "a second copy arrived"
        assert len(calls) == 1 and calls[0]["market"] == MARKET
        if django_settings.REDIS_URL:  # one PUBLISH on Redis for both connections
            assert hub.publisher.published - before == 1

    run(scenario)


def test_a_consumer_that_disconnects_or_unsubscribes_leaves_the_hub(user):
    token = token_for(user)

    async def scenario():
        a = await ws_connect(token=token)
        b = await ws_connect(token=token)
        await _subscribe(a, [MARKET, "luno:ETH/ZAR"])
        await _subscribe(b, [MARKET])
        assert len(hub.followers(MARKET)) == 2
        await a.disconnect()
        await asyncio.sleep(0.1)
        assert len(hub.followers(MARKET)) == 1 and not hub.followers("luno:ETH/ZAR")
        (sink,) = hub.followers(MARKET)
        assert not sink.closed
        await b.send_json_to({"type": "unsubscribe", "symbols": [MARKET]})
        assert (await ws_receive(b))["type"] == "unsubscribed"
        assert not hub.followers(MARKET)
        feed.send_to_market("luno", "BTC/ZAR", "market_update", _payload(1.0))
        assert await b.receive_nothing(timeout=0.3)

    run(scenario)


def test_a_slow_consumer_does_not_delay_another():
    """One follower's send never returns; the other still gets every message at once, and the stuck one's queue stays
    bounded, holding the newest ticker (the older ones of the same market were replaced)."""

    async def scenario():
        fast, stuck_calls = [], []
        never = asyncio.Event()

        async def fast_send(message):
            fast.append((message["event"], message["payload"].get("last", message["payload"].get("n"))))

        async def stuck_send(message):
            stuck_calls.append(message)
            await never.wait()

        slow = hub.Sink(stuck_send, max_pending=4)
        quick = hub.Sink(fast_send)
        await hub.follow(slow, [MARKET])
        await hub.follow(quick, [MARKET])
        try:
            started = time.monotonic()
            for i in range(20):
                feed.send_to_market("luno", "BTC/ZAR", "market_update", _payload(float(i)))
                feed.send_to_market("luno", "BTC/ZAR", "signal", {"exchange": "luno", "symbol": "BTC/ZAR", "n": i})
                deadline = time.monotonic() + 2
                while len(fast) < 2 * (i + 1) and time.monotonic() < deadline:  # each one arrives before the next
                    await asyncio.sleep(0.002)
            took = time.monotonic() - started
            expected = [pair for i in range(20) for pair in (("market_update", float(i)), ("signal", i))]
            assert fast == expected
            assert took < 3.0, took
            assert len(stuck_calls) == 1  # blocked in its first send, and only that one
            pending = list(slow._pending.values())
            assert len(pending) <= 4 and slow.dropped > 0
            updates = [m for m in pending if m["event"] == "market_update"]
            assert [m["payload"]["last"] for m in updates] == [19.0]  # the latest ticker survives
        finally:
            hub.unfollow(slow)
            hub.unfollow(quick)
        assert slow.closed and not hub.followers(MARKET)

    run(scenario)


PUBLISHER = """
import django, sys
django.setup()
from market import feed
from realtime import hub
feed.send_to_market("luno", "BTC/ZAR", "market_update", {"exchange": "luno", "symbol": "BTC/ZAR", "last": 777.0,
    "bid": None, "ask": None, "change_pct": None, "volume": None, "timestamp": "2024-01-01T00:00:00.000Z"})
sys.exit(0 if hub.publisher.flush(10) and hub.publisher.published == 1 else 3)
"""


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: processes share the hub over Redis")
def test_a_message_published_by_another_process_reaches_a_subscriber(user):
    token = token_for(user)

    async def scenario():
        comm = await ws_connect(token=token)
        await _subscribe(comm, [MARKET])
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "amarktai.settings")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PUBLISHER, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-2000:]
        message = await ws_receive(comm, timeout=5)
        assert message["type"] == "market_update" and message["data"]["last"] == 777.0
        assert hub.listener.received >= 1

    run(scenario)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: the process's Redis subscriber")
def test_the_subscriber_reconnects_after_its_connection_is_killed(user):
    import redis

    token = token_for(user)
    admin = redis.Redis.from_url(os.environ["REDIS_URL"])

    async def scenario():
        comm = await ws_connect(token=token)
        await _subscribe(comm, [MARKET])
        before = hub.listener.reconnects
        ours = [c for c in admin.client_list() if c.get("name") == hub.client_name()]
        assert len(ours) == 1, ours
        admin.execute_command("CLIENT", "KILL", "ID", ours[0]["id"])
        deadline = time.monotonic() + 10
        while not (hub.listener.reconnects > before and hub.listener.ready.is_set()):
            assert time.monotonic() < deadline, "the subscriber did not reconnect"
            await asyncio.sleep(0.05)
        feed.send_to_market("luno", "BTC/ZAR", "market_update", _payload(42.0))
        message = await ws_receive(comm, timeout=5)
        assert message == {"type": "market_update", "data": _payload(42.0)}

    run(scenario)
