"""User events through the fan-out hub (realtime.hub): send_many publishes a batch once; each process's subscriber
hands each event by route (``user.<id>``, ``admins``) to its local consumers; an admin socket gets every user's event
once; a socket that ended gets nothing more; a burst is never dropped; after a gap in the process's Redis
subscription the streams replay what they missed. Runs embedded (in-process hand-over) and, with REDIS_URL, over Redis
pub/sub (with a second subscribing process)."""

import asyncio
import json
import os
import sys
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings
from prometheus_client import REGISTRY

from realtime import events, hub, sessions
from tests.realtime.conftest import SSEStream, run, token_for, ws_connect, ws_receive

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS_ONLY = override_settings(REALTIME_RECHECK_SECONDS=60)
REDIS = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: the hub over Redis")


def _alert(user_id, text):
    return (user_id, events.ALERT, {"level": "info", "message": text})


def _trade(user_id, trade_id):
    return (user_id, events.TRADE_EXECUTED, {"trade": {"id": trade_id, "profit_loss": 0}})


async def send_many(items):
    """events.send_many from a worker thread, as a Celery task or request thread calls it."""
    await sync_to_async(events.send_many)(items)


async def connected(user):
    """A WebSocket of the user whose consumer has finished connecting (it follows its events): it answered a ping."""
    comm = await ws_connect(token=token_for(user))
    await comm.send_json_to({"type": "ping"})
    assert (await ws_receive(comm, timeout=10))["type"] == "pong"
    return comm


async def sse(user):
    stream = await SSEStream(headers={"Authorization": f"Bearer {token_for(user)}"}).start()
    assert stream.status == 200
    assert (await stream.event())["event"] == "overview_update"
    return stream


# A second ASGI process's worth of hub: its own subscriber following one route, printing what it got.
SUBSCRIBER = """
import asyncio, json, sys
import django
django.setup()
from realtime import hub

async def main(route, n):
    got, done = [], asyncio.Event()

    async def collect(message):
        got.append([message["user_id"], message["event"], message["payload"]["message"]])
        if len(got) >= n:
            done.set()

    await hub.follow(hub.Sink(collect, kind=hub.EVENTS), [route])
    print("ready", flush=True)
    await asyncio.wait_for(done.wait(), 30)
    await asyncio.sleep(0.3)  # nothing more than n arrives
    print(json.dumps(got), flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def test_each_event_reaches_its_user_and_every_admin_once_from_one_publish(user, other_user, admin_user, monkeypatch):
    sends = []
    original = hub.send
    monkeypatch.setattr(hub, "send", lambda messages: (sends.append(len(messages)), original(messages)))

    async def scenario():
        other_process = None
        if os.environ.get("REDIS_URL"):  # a second process following "admins" over Redis
            settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "amarktai.settings")
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
            other_process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", SUBSCRIBER, events.ADMIN_GROUP, "3", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert (await asyncio.wait_for(other_process.stdout.readline(), 60)).strip() == b"ready"
        mine = await connected(user)
        mine_too = await connected(user)
        theirs = await connected(other_user)
        admin = await connected(admin_user)

        await send_many([_alert(user.pk, "a1"), _alert(other_user.pk, "b1"), _alert(admin_user.pk, "c1")])
        assert sends == [3]  # the batch went out in one call (one pipelined round trip with Redis)

        for comm in (mine, mine_too):
            assert (await ws_receive(comm))["message"] == "a1"
        assert (await ws_receive(theirs))["message"] == "b1"
        # The admin socket follows "admins" only: every user's events, its own included, each exactly once.
        assert [(await ws_receive(admin))["message"] for _ in range(3)] == ["a1", "b1", "c1"]
        for comm in (mine, mine_too, theirs, admin):
            assert await comm.receive_nothing(0.3)
        if other_process is not None:
            out, err = await asyncio.wait_for(other_process.communicate(), 60)
            assert other_process.returncode == 0, err.decode()[-2000:]
            got = json.loads(out.decode().strip().splitlines()[-1])
            assert got == [
                [str(user.pk), "alert", "a1"],
                [str(other_user.pk), "alert", "b1"],
                [str(admin_user.pk), "alert", "c1"],
            ]
            assert hub.listener.received >= 3

    run(scenario)


def test_routes_are_per_process_followers_and_a_sink_gets_a_message_once():
    async def scenario():
        got = {"a": [], "both": []}

        def collector(name):
            async def collect(message):
                got[name].append(message["payload"]["message"])

            return collect

        only_a, both = hub.Sink(collector("a"), kind=hub.EVENTS), hub.Sink(collector("both"), kind=hub.EVENTS)
        await hub.follow(only_a, ["user.route-a"])
        await hub.follow(both, ["user.route-a", events.ADMIN_GROUP])
        try:
            await send_many([_alert("route-a", "x"), _alert("route-b", "y")])
            deadline = time.monotonic() + 5
            while len(got["both"]) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)
            assert got == {"a": ["x"], "both": ["x", "y"]}
        finally:
            hub.unfollow(only_a)
            hub.unfollow(both)
        assert not hub.followers("user.route-a") and not hub.followers(events.ADMIN_GROUP)

    run(scenario)


@EVENTS_ONLY
def test_a_revoked_session_gets_nothing_after_its_end(user):
    def burst_then_revoke():
        events.send_many([_alert(user.pk, f"before {i}") for i in range(200)])
        sessions.close_user_sessions(user.pk, sessions.SESSIONS_REVOKED)  # outside a transaction: sent at once
        events.send_many([_alert(user.pk, f"after {i}") for i in range(50)])

    async def scenario():
        comm = await connected(user)
        stream = await sse(user)
        await sync_to_async(burst_then_revoke)()
        received = []
        while True:
            out = await comm.receive_output(3)
            if out["type"] == "websocket.close":
                break
            received.append(json.loads(out["text"])["message"])
        assert out["code"] == sessions.CLOSE_AUTH
        # The revocation is handled in order with the events: all that came before it, nothing published after it.
        assert received == [f"before {i}" for i in range(200)]
        assert not hub.followers(events.user_group(user.pk))  # the socket and the stream left the hub
        await send_many([_alert(user.pk, "later")])
        assert await comm.receive_nothing(0.3)
        last = (await stream.events_until("session_closed", 3))[-1]
        assert last["data"]["reason"] == sessions.SESSIONS_REVOKED and stream.more_body is False

    run(scenario)


def test_a_burst_of_one_users_tick_is_never_dropped(user):
    """A tick of 250 bots of one user: every bot_update reaches each of the user's sockets, in order."""
    before = REGISTRY.get_sample_value("amarktai_realtime_hub_dropped_total", {"kind": "events", "reason": "overflow"})

    async def scenario():
        sockets = [await connected(user) for _ in range(2)]
        tick = [(user.pk, events.BOT_UPDATE, {"bot_id": f"bot-{i}", "status": "active"}) for i in range(250)]
        await send_many(tick)
        for comm in sockets:
            got = [(await ws_receive(comm, timeout=5))["bot_id"] for _ in range(250)]
            assert got == [f"bot-{i}" for i in range(250)]
            assert await comm.receive_nothing(0.2)

    run(scenario)
    after = REGISTRY.get_sample_value("amarktai_realtime_hub_dropped_total", {"kind": "events", "reason": "overflow"})
    assert (after or 0) == (before or 0)


def test_an_events_sink_holds_a_large_burst_and_counts_what_it_must_drop():
    async def scenario():
        release = asyncio.Event()
        sent = []

        async def stuck(message):
            await release.wait()
            sent.append(message["n"])

        sink = hub.Sink(stuck, kind=hub.EVENTS)  # REALTIME_EVENTS_MAX_PENDING (10,000)
        for n in range(5000):
            sink.offer({"event": "bot_update", "n": n})
        assert sink.dropped == 0
        small = hub.Sink(stuck, max_pending=10, kind=hub.EVENTS)
        before = REGISTRY.get_sample_value(
            "amarktai_realtime_hub_dropped_total", {"kind": "events", "reason": "overflow"}
        )
        small.offer({"event": "market_update", "market": "luno:BTC/ZAR", "n": 0})
        await asyncio.sleep(0)  # the drain takes message 0 and waits in the stuck send
        for n in range(1, 15):
            small.offer({"event": "market_update", "market": "luno:BTC/ZAR", "n": n})  # never coalesced for events
        assert small.dropped == 4  # one is in the (stuck) drain, ten pending
        after = REGISTRY.get_sample_value(
            "amarktai_realtime_hub_dropped_total", {"kind": "events", "reason": "overflow"}
        )
        assert after - (before or 0) == 4
        release.set()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(sent) == 5000 + 11:
                break
        assert sent[:5000] == list(range(5000))
        assert sent[5000:] == [0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
        sink.close()
        small.close()

    asyncio.run(scenario())


def test_after_a_subscription_gap_the_user_streams_replay_what_they_missed(user):
    """Events published while this process's subscription was down are in the replay buffer but never reached it:
    the gap marker makes the user's WebSocket and SSE stream send them, in order, once."""

    async def scenario():
        comm = await connected(user)
        stream = await sse(user)
        await send_many([_trade(user.pk, "seen")])
        assert (await ws_receive(comm))["trade"]["id"] == "seen"
        assert (await stream.event())["data"]["trades"][0]["id"] == "seen"

        await sync_to_async(events._prepare)([_trade(user.pk, "missed 1"), _trade(user.pk, "missed 2")])
        hub._gap_all()
        await send_many([_trade(user.pk, "live")])
        assert [(await ws_receive(comm))["trade"]["id"] for _ in range(3)] == ["missed 1", "missed 2", "live"]
        assert [(await stream.event())["data"]["trades"][0]["id"] for _ in range(3)] == ["missed 1", "missed 2", "live"]
        assert await comm.receive_nothing(0.3)
        await stream.no_event()

    run(scenario)


@REDIS
def test_events_published_while_the_subscription_is_down_are_replayed_after_it_reconnects(user):
    import redis

    admin = redis.Redis.from_url(os.environ["REDIS_URL"])

    async def scenario():
        comm = await connected(user)
        stream = await sse(user)
        before = hub.listener.gaps
        ours = [c for c in admin.client_list() if c.get("name") == hub.client_name()]
        assert len(ours) == 1, ours
        admin.execute_command("CLIENT", "KILL", "ID", ours[0]["id"])
        await send_many([_trade(user.pk, "during the gap")])  # no subscriber of this process hears this PUBLISH
        deadline = time.monotonic() + 10
        while not (hub.listener.gaps > before and hub.listener.ready.is_set()):
            assert time.monotonic() < deadline, "the subscriber did not reconnect"
            await asyncio.sleep(0.05)
        assert (await ws_receive(comm, timeout=5))["trade"]["id"] == "during the gap"
        assert (await stream.event())["data"]["trades"][0]["id"] == "during the gap"
        await send_many([_trade(user.pk, "after")])
        assert (await ws_receive(comm))["trade"]["id"] == "after"
        assert await comm.receive_nothing(0.3)

    run(scenario)


def test_a_batch_numbers_each_users_events_in_order_with_one_counter_step_per_user(user, other_user):
    before_mine, before_theirs = events.last_event_id(user.pk), events.last_event_id(other_user.pk)
    batch = [_alert(user.pk, "m1"), _alert(other_user.pk, "t1"), _alert(user.pk, "m2"), _alert(user.pk, "m3")]
    events.send_many(batch)
    mine = events.events_since(user.pk, before_mine)
    theirs = events.events_since(other_user.pk, before_theirs)
    assert [(m["id"], m["payload"]["message"]) for m in mine] == [
        (before_mine + 1, "m1"),
        (before_mine + 2, "m2"),
        (before_mine + 3, "m3"),
    ]
    assert [(m["id"], m["payload"]["message"]) for m in theirs] == [(before_theirs + 1, "t1")]
    assert events.last_event_id(user.pk) == before_mine + 3


def test_a_batch_costs_the_notifications_listener_one_query_not_one_per_event(make_user, django_assert_max_num_queries):
    users = [make_user() for _ in range(20)]
    batch = [_trade(u.pk, f"t{i}") for i, u in enumerate(users)]
    with django_assert_max_num_queries(1):  # which of the batch's users subscribed to trade_executed: nobody
        events.send_many(batch)
