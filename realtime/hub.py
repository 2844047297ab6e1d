"""The fan-out hub: each message is published ONCE, and each process hands it to its own consumers by route.

Two kinds of message travel through it, both dicts carrying ``ws`` (the WebSocket text, encoded once by the writer):

- market messages (market.feed: the coalesced ``market_update`` and the scan's ``signal``), routed by ``market`` (the
  wire name, ``"luno:BTC/ZAR"``), published one at a time with ``publish(message)``;
- user events (realtime.events.send_many), routed by ``routes``: ``["user.<id>", "admins"]``, published a batch at
  a time with ``send(messages)``; and the session control messages of realtime.sessions, routed ``session.<id>``,
  which each connection's events Sink also follows, so they are handled in order with the user's events.

A consumer follows routes (``follow(sink, routes)``): a WebSocket or SSE stream follows ``user.<its user's id>``
(an admin WebSocket ``admins`` instead, which carries every user's events once) and the markets it subscribed to.

- With REDIS_URL (production, several ASGI processes): the writer PUBLISHes the JSON text once on one Redis pub/sub
  channel: ``publish`` from a daemon thread of its own (the market writer never waits on Redis), ``send`` at once from
  the caller's thread, a batch of events in one pipelined round trip (one PUBLISH per SEND_CHUNK events). Each ASGI
  process runs ONE subscriber task on its event loop, started with the first ``follow`` in that process and
  reconnecting with backoff on error. Redis work per message: one PUBLISH plus one delivery per subscribed process,
  O(processes), not O(clients); no Redis work per socket.
- Without it (the embedded default, one process): both dispatch in process at once, thread-safely (the writer is a
  request thread, the scheduler's or the market-data service's).

Each consumer owns a ``Sink`` per kind: its own bounded queue of pending messages and its own drain task, which awaits
the consumer's send. The hub only puts a message in each follower's queue (on the follower's loop, through
``call_soon_threadsafe`` from other threads, once per loop and batch): a slow client delays nobody but itself.
A market Sink keeps MAX_PENDING (32) messages, a pending ``market_update`` of a market replaced by a newer one of the
same market (only the latest ticker matters). An events Sink (``kind="events"``) never coalesces and keeps up to
REALTIME_EVENTS_MAX_PENDING messages (a tick of thousands of bots of one user is a burst it holds); past its bound
the oldest pending one is dropped and counted (``amarktai_realtime_hub_dropped_total{kind="events"}``, a warning
logged once per sink), so a loss is never silent. One user's events reach the user's sockets in the order published.

While a process's Redis subscription is down (Redis restarting, the connection killed), the messages published
meanwhile do not reach that process (pub/sub is at-most-once). When the subscription is confirmed again, every events
Sink of the process gets a ``gap`` marker in its queue, after whatever it already holds
(``amarktai_realtime_hub_gaps_total`` counts them): an SSE stream and a user's WebSocket then send, in order, the
events of the user's replay buffer (realtime.events) newer than the last one they sent, so they miss nothing the
buffer still holds; an admin WebSocket (every user's events) has no single buffer to replay and misses the events of
the gap. A client that reconnects by itself recovers the same way (SSE: Last-Event-ID).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import queue
import random
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from django.conf import settings

from realtime.metrics import HUB_DROPPED, HUB_GAPS

logger = logging.getLogger(__name__)

MARKET_UPDATE = "market_update"
MARKET = "market"
EVENTS = "events"
GAP = "hub.gap"  # the "type" of the marker a Sink's send gets after a subscription gap (events Sinks only)
KEEP = (GAP, "amarktai.session")  # never dropped by a Sink's bound: a gap marker, a session control message
MAX_PENDING = 32  # market messages waiting for one slow consumer before the oldest is dropped
READY_WAIT_SECONDS = 3.0  # how long a first subscription waits for the process's Redis subscription to be confirmed
PUBLISH_QUEUE = 10_000  # messages waiting for the publisher thread (Redis down): newer ones are dropped past it
BACKOFF_MAX_SECONDS = 10.0
SEND_CHUNK = 500  # events per PUBLISH of a batch


def events_max_pending() -> int:
    return int(settings.REALTIME_EVENTS_MAX_PENDING)


class Sink:
    """One consumer's end of the hub: a bounded queue of pending messages drained by one task on its loop."""

    def __init__(
        self,
        send: Callable[[dict], Awaitable[None]],
        max_pending: int | None = None,
        *,
        paused: bool = False,
        kind: str = MARKET,
    ) -> None:
        """``paused``: queue but send nothing until ``resume()`` (a stream that must first send its opening frames).
        ``kind``: MARKET (bound MAX_PENDING, market_update coalesced per market) or EVENTS (bound
        REALTIME_EVENTS_MAX_PENDING, nothing coalesced)."""
        self.loop = asyncio.get_running_loop()
        self.paused = paused
        self.kind = kind
        self._send = send
        if max_pending is None:
            max_pending = MAX_PENDING if kind == MARKET else events_max_pending()
        self._max = max_pending
        self._pending: OrderedDict[Any, dict] = OrderedDict()
        self._task: asyncio.Task | None = None
        self._seq = 0
        self.closed = False
        self.dropped = 0

    def offer(self, message: dict) -> None:
        """Queue a message (on the sink's loop) and make sure the drain runs; never waits."""
        if self.closed:
            return
        if self.kind == MARKET and message.get("event") == MARKET_UPDATE:
            key: Any = ("m", message.get("market"))
            if self._pending.pop(key, None) is not None:
                self.dropped += 1  # superseded by the newer ticker of the same market
                HUB_DROPPED.labels(self.kind, "superseded").inc()
        else:
            self._seq += 1
            key = self._seq
        self._pending[key] = message
        if len(self._pending) > self._max:
            self._overflow()
        if self._task is None and not self.paused:
            self._task = self.loop.create_task(self._drain())

    def _overflow(self) -> None:
        """Drop the oldest pending messages past the bound, never a gap marker or a session control message."""
        kept, over = [], 0
        while len(self._pending) > self._max:
            key, message = self._pending.popitem(last=False)
            if message.get("type") in KEEP:
                kept.append((key, message))
            else:
                over += 1
        for key, message in reversed(kept):
            self._pending[key] = message
            self._pending.move_to_end(key, last=False)
        if not over:
            return
        if self.kind == EVENTS and not self.dropped:
            logger.warning("hub: a consumer fell %d events behind; dropping its oldest pending ones", self._max)
        self.dropped += over
        HUB_DROPPED.labels(self.kind, "overflow").inc(over)

    def gap(self) -> None:
        """The process's subscription was down: queue the marker after what is pending (never dropped by a bound)."""
        if self.kind == EVENTS and not self.closed:
            self._seq += 1
            self._pending[("gap", self._seq)] = {"type": GAP}
            if self._task is None and not self.paused:
                self._task = self.loop.create_task(self._drain())

    def resume(self) -> None:
        self.paused = False
        if self._pending and self._task is None and not self.closed:
            self._task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._pending and not self.closed:
                _, message = self._pending.popitem(last=False)
                try:
                    await self._send(message)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a consumer that went away mid-send: it unregisters itself
                    logger.debug("hub: a send to a consumer failed", exc_info=True)
        finally:
            self._task = None

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()


# ---------------------------------------------------------------------------------------------- the registry
_lock = threading.Lock()
_followers: dict[str, set[Sink]] = {}


def followers(route: str) -> set[Sink]:
    with _lock:
        return set(_followers.get(route, ()))


async def follow(sink: Sink, routes: Iterable[str]) -> None:
    """Deliver the messages of these routes (market wire names, ``user.<id>``, ``admins``) to the sink; with Redis,
    make sure this process listens."""
    with _lock:
        for route in routes:
            _followers.setdefault(route, set()).add(sink)
    if settings.REDIS_URL:
        await listener.ensure()


def unfollow(sink: Sink, routes: Iterable[str] | None = None) -> None:
    """Stop delivering these routes (all of them when None) to the sink; None also closes it."""
    with _lock:
        for route in list(_followers) if routes is None else list(routes):
            group = _followers.get(route)
            if group is not None:
                group.discard(sink)
                if not group:
                    del _followers[route]
    if routes is None:
        sink.close()


def routes_of(message: dict) -> list[str]:
    """Where a message goes: its ``routes`` (user events), else its ``market``."""
    routes = message.get("routes")
    return list(routes) if routes else [str(message.get("market"))]


def _offer_pairs(pairs: list[tuple[Sink, dict]]) -> None:
    for sink, message in pairs:
        sink.offer(message)


def dispatch(message: dict) -> None:
    """Hand a message to this process's followers of its routes, from any thread."""
    dispatch_many([message])


def dispatch_many(messages: Iterable[dict]) -> None:
    """Hand messages, in order, to this process's followers of their routes (a sink following several routes of one
    message gets it once), from any thread: one hop per event loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Sink, dict]]] = {}
    with _lock:
        if not _followers:
            return
        for message in messages:
            routes = routes_of(message)
            if len(routes) == 1:
                sinks: Iterable[Sink] = _followers.get(routes[0], ())
            else:
                found: dict[Sink, None] = {}
                for route in routes:
                    found.update(dict.fromkeys(_followers.get(route, ())))
                sinks = found
            for sink in sinks:
                by_loop.setdefault(sink.loop, []).append((sink, message))
    if not by_loop:
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, pairs in by_loop.items():
        if loop is running:
            _offer_pairs(pairs)
            continue
        try:
            loop.call_soon_threadsafe(_offer_pairs, pairs)
        except RuntimeError:  # the loop is closed: its consumers are gone
            for sink in {sink for sink, _ in pairs}:
                unfollow(sink)


def _gap_all() -> None:
    """This process's subscription came back after a loss: every events Sink queues a gap marker."""
    with _lock:
        sinks = {sink for group in _followers.values() for sink in group if sink.kind == EVENTS}
    if not sinks:
        return
    HUB_GAPS.inc()
    by_loop: dict[asyncio.AbstractEventLoop, list[Sink]] = {}
    for sink in sinks:
        by_loop.setdefault(sink.loop, []).append(sink)
    for loop, group in by_loop.items():
        try:
            loop.call_soon_threadsafe(lambda group=group: [sink.gap() for sink in group])
        except RuntimeError:
            pass


# ----------------------------------------------------------------------------------------------- publishing
def encode(data: Any) -> bytes:
    """Compact JSON (orjson; the standard library for what orjson refuses)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()


def channel() -> str:
    """The Redis pub/sub channel (pub/sub ignores the db number: the URL's hash keeps deployments apart)."""
    return channel_for(str(settings.REDIS_URL))


def channel_for(url: str) -> str:
    return "amarktai.hub." + hashlib.sha256(url.encode()).hexdigest()[:12]


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _client(url: str) -> Any:
    """This process's synchronous Redis client for publishing (thread-safe: a pool of connections)."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            import redis

            client = _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        return client


class _Publisher:
    """One daemon thread that PUBLISHes queued texts in order, so the market writer never waits."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue(PUBLISH_QUEUE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.published = 0

    def submit(self, text: bytes) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hub-publisher", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait((str(settings.REDIS_URL), text))
        except queue.Full:
            logger.warning("hub: the publish queue is full (is Redis down?); a market message was dropped")

    def _run(self) -> None:
        while True:
            url, text = self._queue.get()
            try:
                _client(url).publish(channel_for(url), text)
                self.published += 1
            except Exception:
                logger.warning("hub: a Redis publish failed", exc_info=True)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued message is published (for short-lived processes and tests)."""
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)


publisher = _Publisher()


def publish(message: dict) -> None:
    """Send a market message to every process's followers of its market: once, whatever their number; never waits
    on Redis (a thread publishes it)."""
    if settings.REDIS_URL:
        publisher.submit(encode(message))
    else:
        dispatch(message)


def send(messages: list[dict]) -> None:
    """Send a batch of user events to every process's followers of their routes, in order, before returning: with
    Redis one pipelined round trip (one PUBLISH per SEND_CHUNK events); without it, dispatched in process. Raises what
    Redis raises (the caller logs it)."""
    if not messages:
        return
    if not settings.REDIS_URL:
        dispatch_many(messages)
        return
    url = str(settings.REDIS_URL)
    name = channel_for(url)
    pipe = _client(url).pipeline(transaction=False)
    for start in range(0, len(messages), SEND_CHUNK):
        pipe.publish(name, encode(messages[start : start + SEND_CHUNK]))
    pipe.execute()


# ------------------------------------------------------------------------------------------ the Redis listener
class _Listener:
    """This process's one Redis subscriber task (on the loop of the consumers that started it)."""

    def __init__(self) -> None:
        self.task: asyncio.Task | None = None
        self.ready: asyncio.Event | None = None
        self.received = 0
        self.reconnects = 0
        self.gaps = 0

    async def ensure(self) -> None:
        loop = asyncio.get_running_loop()
        task = self.task
        if task is None or task.done() or task.get_loop() is not loop:
            if task is not None and not task.done():  # one subscriber per process: the one on another loop goes
                try:
                    task.get_loop().call_soon_threadsafe(task.cancel)
                except RuntimeError:  # its loop is closed already
                    pass
            self.ready = asyncio.Event()
            self.task = loop.create_task(self._run(self.ready), name="hub-listener")
        if self.ready is not None and not self.ready.is_set():
            try:
                await asyncio.wait_for(asyncio.shield(self.ready.wait()), READY_WAIT_SECONDS)
            except TimeoutError:
                logger.warning("hub: the Redis subscription is not confirmed yet; carrying on")

    async def _run(self, ready: asyncio.Event) -> None:
        import redis.asyncio as aioredis

        delay = 0.5
        lost = False  # a subscription of this task was lost: the next confirmation is a gap
        url = str(settings.REDIS_URL)
        while True:
            client = aioredis.Redis.from_url(url, socket_connect_timeout=5, client_name=client_name())
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(channel_for(url))
                async for item in pubsub.listen():
                    kind = item.get("type")
                    if kind == "subscribe":
                        ready.set()
                        delay = 0.5
                        if lost:
                            lost = False
                            self.gaps += 1
                            _gap_all()
                        continue
                    if kind != "message":
                        continue
                    try:
                        data = orjson.loads(item["data"])
                        batch = data if isinstance(data, list) else [data]
                        self.received += len(batch)
                        dispatch_many(batch)
                    except Exception:
                        logger.warning("hub: a malformed or undeliverable message", exc_info=True)
                raise ConnectionError("the Redis subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception:
                ready.clear()
                lost = True
                self.reconnects += 1
                logger.warning("hub: Redis subscription failed; reconnecting in %.1f s", delay, exc_info=True)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
            finally:
                for closing in (pubsub.aclose, client.aclose):
                    try:
                        await asyncio.wait_for(closing(), 1.0)
                    except BaseException:  # noqa: BLE001 - best effort while reconnecting or being cancelled
                        pass


def client_name() -> str:
    """The Redis client name of this process's subscriber (CLIENT LIST shows which process a subscription is)."""
    return f"amarktai-hub-{os.getpid()}"


listener = _Listener()
