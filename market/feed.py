"""The WebSocket/SSE market feed: ``market_update`` to the subscribers of each market, coalesced; market-wide messages
(the scan's ``signal``) to the same subscribers.

A listener on trading.marketcache (registered by market.apps) hears every ticker the market-data service writes, in
the writer's process. Per market it sends at most MARKET_UPDATES_PER_SECOND messages: a ticker that arrives sooner is
held, replaced by any newer one, and sent when the market's interval has passed (the subscriber always ends on the
latest ticker; nothing older is ever sent after a newer one).

Each message is encoded once here and published ONCE through realtime.hub (one Redis PUBLISH with REDIS_URL,
an in-process hand-over in the embedded default): every ASGI process's single hub subscriber hands it to the local
consumers that follow the market, which only forward the pre-encoded text. The cost per message is O(processes), not
O(clients); publishing never blocks the writer. Delayed (coalesced) sends run on the caller's loop, or on one
background loop of this process for plain threads (Celery, the embedded scheduler, a REST fetch).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from amarktai.utils import iso_now
from realtime import events, hub, markets, translate
from trading import marketcache
from trading.platforms import get_platform

logger = logging.getLogger(__name__)
DAY_STATS_SECONDS = 300.0  # how long the day's open/volume of a market (from its cached hourly candles) is reused
# A scheduled send this late was lost (its event loop ended): the next ticker is sent at once instead of waiting.
LOST_FLUSH_SECONDS = 2.0


def resolve(text: str) -> tuple[str, str]:
    """("luno", "BTC/ZAR") for "luno:btc/zar", or ValueError saying why not (realtime.markets' resolver)."""
    exchange, _, symbol = text.partition(":")
    platform = get_platform(exchange.strip())
    if platform is None or not platform.enabled:
        raise ValueError(f"unknown exchange {exchange.strip()[:32]!r}")
    symbol = symbol.strip().upper()
    if symbol not in platform.symbols:
        raise ValueError(f"unknown market on {platform.name}: one of {', '.join(platform.symbols)}")
    return platform.id, symbol


def want(exchange: str, symbol: str, ttl: float) -> None:
    marketcache.want(exchange, symbol, ttl)


def ws_text(event_type: str, payload: dict) -> str:
    message = {**events.build_message("", event_type, payload), "user_id": None}
    return json.dumps(translate.ws_message(message), separators=(",", ":"))


def group_message(event_type: str, payload: dict) -> dict:
    """A market message the WebSocket consumers forward as is (its ``ws`` text, encoded once here)."""
    return {
        "type": "amarktai.event",
        "event": event_type,
        "id": None,
        "user_id": None,
        "payload": payload,
        "timestamp": iso_now(),
        "ws": ws_text(event_type, payload),
    }


class _Timer:
    """Runs the coalescer's delayed sends without blocking the caller: on the caller's running loop, else on a
    background loop of this process (one daemon thread, started on first use)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _background(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="market-feed", daemon=True).start()
                self._loop = loop
            return self._loop

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            running.call_later(delay, fn)
        else:
            loop = self._background()
            loop.call_soon_threadsafe(loop.call_later, delay, fn)


sender = _Timer()


def send_to_market(exchange: str, symbol: str, event_type: str, payload: dict) -> None:
    """Send one message to the subscribers of a market in every process: published ONCE (realtime.hub), never
    waiting on a subscriber."""
    try:
        hub.publish({**group_message(event_type, payload), "market": markets.wire(exchange, symbol)})
    except Exception:  # a lost market message must never break the feed
        logger.warning("market feed: a market message could not be published", exc_info=True)


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class Coalescer:
    """At most ``per_second`` market_update messages per market; the latest ticker wins."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        # (exchange, symbol) -> [last sent (clock), pending entry or None, when the scheduled send is due or None]
        self._state: dict[tuple[str, str], list] = {}
        self._day: dict[tuple[str, str], tuple[float, dict]] = {}

    @staticmethod
    def interval() -> float:
        per_second = float(settings.MARKET_UPDATES_PER_SECOND)
        return 1.0 / per_second if per_second > 0 else 0.0

    def listener(self, kind: str, exchange: str, symbol: str, data: Any) -> None:
        """trading.marketcache listener: tickers only."""
        if kind == "ticker":
            self.offer(exchange, symbol, data)

    def offer(self, exchange: str, symbol: str, entry: dict) -> None:
        key = (exchange, symbol)
        now = self.clock()
        with self._lock:
            state = self._state.setdefault(key, [-math.inf, None, None])
            if state[2] is not None and now < state[2] + LOST_FLUSH_SECONDS:
                state[1] = entry  # a send is already due: it will carry this newer ticker
                return
            wait = state[0] + self.interval() - now
            if wait <= 0:  # (also when a due send was lost with the event loop it was scheduled on)
                state[0], state[1], state[2] = now, None, None
            else:
                state[1], state[2] = entry, now + wait
        if wait <= 0:
            self._send(key, entry)
        else:
            sender.later(wait, lambda: self._flush(key))

    def _flush(self, key: tuple[str, str]) -> None:
        with self._lock:
            state = self._state[key]
            entry, state[1], state[2] = state[1], None, None
            if entry is not None:
                state[0] = self.clock()
        if entry is not None:
            self._send(key, entry)

    def _day_stats(self, exchange: str, symbol: str) -> dict:
        """The day's open and volume from the cached hourly candles, reused for DAY_STATS_SECONDS."""
        key, now = (exchange, symbol), time.monotonic()
        cached = self._day.get(key)
        if cached is not None and now - cached[0] < DAY_STATS_SECONDS:
            return cached[1]
        rows = marketcache.candles(exchange, symbol, "1h", 24) or []
        stats = {"open": _num(rows[0][1]) if rows else None, "volume": sum(_num(r[5]) or 0.0 for r in rows) or None}
        self._day[key] = (now, stats)
        return stats

    def payload(self, exchange: str, symbol: str, entry: dict) -> dict:
        ticker = entry.get("ticker") or {}
        last = _num(ticker.get("last")) or _num(ticker.get("close"))
        change = _num(ticker.get("percentage"))
        volume = _num(ticker.get("baseVolume"))
        if volume is None:
            volume = _num(ticker.get("volume"))
        if change is None or volume is None:
            day = self._day_stats(exchange, symbol)
            opened = _num(ticker.get("open")) or day["open"]
            if change is None and opened and last is not None:
                change = round((last / opened - 1) * 100, 4)
            volume = volume if volume is not None else day["volume"]
        stamp = _num(ticker.get("timestamp"))
        seconds = stamp / 1000 if stamp is not None else float(entry.get("at") or time.time())
        return {
            "exchange": exchange,
            "symbol": symbol,
            "last": last,
            "bid": _num(ticker.get("bid")),
            "ask": _num(ticker.get("ask")),
            "change_pct": change,
            "volume": volume,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z",
        }

    def _send(self, key: tuple[str, str], entry: dict) -> None:
        send_to_market(key[0], key[1], events.MARKET_UPDATE, self.payload(key[0], key[1], entry))


coalescer = Coalescer()
