"""The market fan-out hub: each market message is published ONCE, and each process hands it to its own consumers.

The market app's feed (market.feed: the coalesced ``market_update`` and the scan's ``signal``) calls
``publish(message)`` once per message, whatever the number of subscribers. The message is a dict with ``market``
(the wire name, ``"luno:BTC/ZAR"``), ``event``, ``payload`` and ``ws`` (the WebSocket text, encoded once by the writer).

- With REDIS_URL (production, several ASGI processes): the writer's process PUBLISHes the JSON text once on one Redis
  pub/sub channel (from a daemon thread of its own, so the writer never waits on Redis). Each ASGI process runs ONE
  subscriber task on its event loop, started with the first subscription in that process (``follow``) and
  reconnecting with backoff on error. Redis work per message: one PUBLISH plus one delivery per subscribed process,
  O(processes), not O(clients).
- Without it (the embedded default, one process): ``publish`` dispatches in process at once, thread-safely (the writer
  is the market-data service's thread or the scheduler's).

Each consumer (WebSocket or SSE stream) that follows markets owns a ``Sink``: its own bounded queue of pending messages
and its own drain task, which awaits the consumer's send. The hub only puts a message in each follower's queue (on the
follower's loop, through ``call_soon_threadsafe`` from other threads): a slow client delays nobody but itself. A
pending ``market_update`` of a market is replaced by a newer one of the same market (only the latest ticker matters);
past MAX_PENDING messages the oldest pending one is dropped.
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

from django.conf import settings

logger = logging.getLogger(__name__)

MARKET_UPDATE = "market_update"
MAX_PENDING = 32  # messages waiting for one slow consumer before the oldest is dropped
READY_WAIT_SECONDS = 3.0  # how long a first subscription waits for the process's Redis subscription to be confirmed
PUBLISH_QUEUE = 10_000  # messages waiting for the publisher thread (Redis down): newer ones are dropped past it
BACKOFF_MAX_SECONDS = 10.0


class Sink:
    """One consumer's end of the hub: a bounded queue of pending messages drained by one task on its loop."""

    def __init__(
        self, send: Callable[[dict], Awaitable[None]], max_pending: int = MAX_PENDING, *, paused: bool = False
    ) -> None:
        """``paused``: queue (bounded, latest wins) but send nothing until ``resume()`` (a stream that must first send
        its opening frames)."""
        self.loop = asyncio.get_running_loop()
        self.paused = paused
        self._send = send
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
        if message.get("event") == MARKET_UPDATE:
            key: Any = ("m", message.get("market"))
            if self._pending.pop(key, None) is not None:
                self.dropped += 1  # superseded by the newer ticker of the same market
        else:
            self._seq += 1
            key = self._seq
        self._pending[key] = message
        while len(self._pending) > self._max:
            self._pending.popitem(last=False)
            self.dropped += 1
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
                    logger.debug("market hub: a send to a consumer failed", exc_info=True)
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


def followers(name: str) -> set[Sink]:
    with _lock:
        return set(_followers.get(name, ()))


async def follow(sink: Sink, names: Iterable[str]) -> None:
    """Deliver the messages of these markets (wire names) to the sink; with Redis, make sure this process listens."""
    with _lock:
        for name in names:
            _followers.setdefault(name, set()).add(sink)
    if settings.REDIS_URL:
        await listener.ensure()


def unfollow(sink: Sink, names: Iterable[str] | None = None) -> None:
    """Stop delivering these markets (all of them when None) to the sink; None also closes it."""
    with _lock:
        for name in list(_followers) if names is None else list(names):
            group = _followers.get(name)
            if group is not None:
                group.discard(sink)
                if not group:
                    del _followers[name]
    if names is None:
        sink.close()


def _offer_all(sinks: list[Sink], message: dict) -> None:
    for sink in sinks:
        sink.offer(message)


def dispatch(message: dict) -> None:
    """Hand a message to this process's followers of its market, from any thread."""
    sinks = followers(str(message.get("market")))
    if not sinks:
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    by_loop: dict[asyncio.AbstractEventLoop, list[Sink]] = {}
    for sink in sinks:
        by_loop.setdefault(sink.loop, []).append(sink)
    for loop, group in by_loop.items():
        if loop is running:
            _offer_all(group, message)
            continue
        try:
            loop.call_soon_threadsafe(_offer_all, group, message)
        except RuntimeError:  # the loop is closed: its consumers are gone
            for sink in group:
                unfollow(sink)


# ----------------------------------------------------------------------------------------------- publishing
def channel() -> str:
    """The Redis pub/sub channel (pub/sub ignores the db number: the URL's hash keeps deployments apart)."""
    return channel_for(str(settings.REDIS_URL))


class _Publisher:
    """One daemon thread that PUBLISHes queued texts in order, so the writer (often an event loop) never waits."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue(PUBLISH_QUEUE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.published = 0

    def submit(self, text: str) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="market-hub-publisher", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait((str(settings.REDIS_URL), text))
        except queue.Full:
            logger.warning("market hub: the publish queue is full (is Redis down?); a market message was dropped")

    def _run(self) -> None:
        import redis

        clients: dict[str, Any] = {}
        while True:
            url, text = self._queue.get()
            try:
                client = clients.get(url)
                if client is None:
                    client = clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
                client.publish(channel_for(url), text)
                self.published += 1
            except Exception:
                logger.warning("market hub: a Redis publish failed", exc_info=True)
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


def channel_for(url: str) -> str:
    return "amarktai.market." + hashlib.sha256(url.encode()).hexdigest()[:12]


publisher = _Publisher()


def publish(message: dict) -> None:
    """Send a market message to every process's followers of its market: once, whatever their number."""
    if settings.REDIS_URL:
        publisher.submit(json.dumps(message, separators=(",", ":")))
    else:
        dispatch(message)


# ------------------------------------------------------------------------------------------ the Redis listener
class _Listener:
    """This process's one Redis subscriber task (on the loop of the consumers that started it)."""

    def __init__(self) -> None:
        self.task: asyncio.Task | None = None
        self.ready: asyncio.Event | None = None
        self.received = 0
        self.reconnects = 0

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
            self.task = loop.create_task(self._run(self.ready), name="market-hub-listener")
        if self.ready is not None and not self.ready.is_set():
            try:
                await asyncio.wait_for(asyncio.shield(self.ready.wait()), READY_WAIT_SECONDS)
            except TimeoutError:
                logger.warning("market hub: the Redis subscription is not confirmed yet; carrying on")

    async def _run(self, ready: asyncio.Event) -> None:
        import redis.asyncio as aioredis

        delay = 0.5
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
                        continue
                    if kind != "message":
                        continue
                    self.received += 1
                    try:
                        dispatch(json.loads(item["data"]))
                    except Exception:
                        logger.warning("market hub: a malformed or undeliverable message", exc_info=True)
                raise ConnectionError("the Redis subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception:
                ready.clear()
                self.reconnects += 1
                logger.warning("market hub: Redis subscription failed; reconnecting in %.1f s", delay, exc_info=True)
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
    return f"amarktai-market-hub-{os.getpid()}"


listener = _Listener()
