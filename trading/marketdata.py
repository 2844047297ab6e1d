"""The market-data service: one process (in the embedded default, a thread of the one process) that holds ONE streaming
connection per exchange for every market in demand and writes tickers, order-book tops and closed candles to
trading.marketcache, which bots, the market endpoints and the WebSocket fan-out read.

Demand: every provider registered with register_demand(fn) (``fn() -> [(exchange, symbol, timeframe, source), ...]``:
the bots app registers its active bots' markets) plus trading.marketcache.wanted() (open charts and WebSocket
subscriptions; streamed on CHART_TIMEFRAMES from the paper-trading source). A market wanted both live and simulated is
streamed live (the cache holds one series per market; simulated readers compute the feed themselves). Re-read every
DEMAND_REFRESH seconds: new markets are subscribed on the open connection, markets nobody wants any more are dropped.

Per (exchange, source) one Feed: a connection from trading.exchanges.streams.open_stream (ccxt.pro's public streams;
REST polling for exchanges without; the simulated feed offline), one watcher per market and timeframe on it.
- Reconnects: a dropped or silent connection (no message for MARKET_DATA_STALE_SECONDS) is closed and reopened after
  an exponential backoff with full jitter (BACKOFF_BASE doubled per failed attempt, at most BACKOFF_MAX; reset once
  data flows again).
- Back-fill: before streaming a market's candles, the gap since the last cached candle (or the last BACKFILL candles
  when none are cached) is fetched over REST (trading.exchanges.market_data: rate limited like every REST call), so a
  reconnect leaves no hole in the series.
- Candles: only closed ones are written (open time + timeframe <= now); every update of the forming candle refreshes
  the series' ``at``: "complete up to now". Tickers also give the book top (best bid/ask and their sizes).

Run: ``python manage.py market_data`` (production: its own process, compose service ``market-data``,
deploy/amarktai-market-data.service); ``manage.py serve`` starts it as a thread when REDIS_URL is unset (start_thread).
status() / the cache key STATUS_KEY: each feed's connections, reconnects, markets and last message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import cache
from django.db import close_old_connections

from trading import marketcache
from trading.exchanges import market_data, paper_source, simfeed
from trading.exchanges.streams import Stream, open_stream
from trading.platforms import get_platform

logger = logging.getLogger(__name__)

DEMAND_REFRESH = 2.0
BACKOFF_BASE = 1.0
BACKOFF_MAX = 60.0
BACKFILL = 300
# Seconds between two "still complete" refreshes of a series while its candle forms (at most a quarter of the staleness
# limit, so a streaming market never looks stale).
CANDLE_REFRESH = 1.0
CHART_TIMEFRAMES = ("1m",)
STATUS_KEY = "md:service:status"
TIMEFRAME_MS = {tf: minutes * 60_000 for tf, minutes in simfeed.TIMEFRAMES.items()}

Market = tuple[str, str, str, str]  # (exchange, symbol, timeframe, source)
DemandProvider = Callable[[], Iterable[Market]]
_providers: list[DemandProvider] = []


def register_demand(fn: DemandProvider) -> None:
    """A higher app tells the service which markets it needs (the bots app: its active bots')."""
    if fn not in _providers:
        _providers.append(fn)


def backoff(attempt: int, base: float | None = None, cap: float | None = None) -> float:
    """Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2**attempt)]."""
    base = BACKOFF_BASE if base is None else base
    cap = BACKOFF_MAX if cap is None else cap
    return random.uniform(0, min(cap, base * (2**attempt)))


def _streamable_live(exchange: str) -> bool:
    platform = get_platform(exchange)
    # Brokers serve prices only to a logged-in account: their live bots read through their owner's credential.
    return platform is not None and platform.kind == "crypto"


def _known(exchange: str, symbol: str, source: str) -> bool:
    if get_platform(exchange) is None:
        return False
    if source == "simulated":
        try:
            simfeed.split_symbol(symbol)
        except simfeed.UnknownSymbol:
            return False
        return True
    return _streamable_live(exchange)


def demand() -> dict[tuple[str, str], dict[str, set[str]]]:
    """{(exchange, source): {symbol: {timeframe, ...}}} of every market in demand now."""
    items: set[Market] = set()
    for fn in list(_providers):
        try:
            items.update(tuple(m) for m in fn())  # type: ignore[misc]
        except Exception:  # a provider's failure must not stop the feed of the others
            logger.exception("market-data demand provider %r failed", fn)
    try:
        chart_source = paper_source()
    except Exception:  # noqa: BLE001 - a misconfigured source: charts get nothing, bots still do
        chart_source = "simulated"
    for exchange, symbol in marketcache.wanted():
        items.update((exchange, symbol, tf, chart_source) for tf in CHART_TIMEFRAMES)
    live = {(e, s) for e, s, _tf, source in items if source == "live" and _known(e, s, "live")}
    out: dict[tuple[str, str], dict[str, set[str]]] = {}
    for exchange, symbol, timeframe, source in items:
        source = "live" if (exchange, symbol) in live else source
        if timeframe not in TIMEFRAME_MS or not _known(exchange, symbol, source):
            continue
        out.setdefault((exchange, source), {}).setdefault(symbol, set()).add(timeframe)
    return out


def closed(rows: list, timeframe: str, now_ms: float) -> list:
    """The candles of ``rows`` that have closed by ``now_ms``."""
    span = TIMEFRAME_MS[timeframe]
    return [list(r) for r in rows if int(r[0]) + span <= now_ms]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


class Feed:
    """One exchange's (and source's) connection and the watchers of its markets on it."""

    def __init__(self, exchange: str, source: str, opener: Callable[[str, str], Stream] = open_stream) -> None:
        self.exchange, self.source = exchange, source
        self.opener = opener
        self.markets: dict[str, set[str]] = {}
        self.connections = 0
        self.reconnects = 0
        self.backfills = 0
        self.messages = 0
        self.last_message = 0.0
        self.last_error = ""
        self.kind = ""
        self.task: asyncio.Task | None = None
        self.started = time.time()
        self._written: dict[tuple[str, str], tuple[int | None, float]] = {}  # (symbol, tf) -> (last open, when)

    def status(self) -> dict:
        return {
            "exchange": self.exchange,
            "source": self.source,
            "kind": self.kind,
            "markets": sorted(self.markets),
            "connections": self.connections,
            "reconnects": self.reconnects,
            "backfills": self.backfills,
            "messages": self.messages,
            "last_message_age": round(time.time() - self.last_message, 3) if self.last_message else None,
            "running_seconds": round(time.time() - self.started, 1),
            "last_error": self.last_error,
        }

    # --- writers ---------------------------------------------------------------------------------------------
    def _seen(self) -> None:
        self.messages += 1
        self.last_message = time.time()

    def write_ticker(self, symbol: str, ticker: dict) -> None:
        now = time.time()
        marketcache.put_ticker(self.exchange, symbol, ticker, at=now, source=self.source)
        bid, ask = _number(ticker.get("bid")), _number(ticker.get("ask"))
        if bid is not None and ask is not None:
            marketcache.put_book(
                self.exchange,
                symbol,
                [[bid, _number(ticker.get("bidVolume"))]],
                [[ask, _number(ticker.get("askVolume"))]],
                at=now,
                source=self.source,
            )

    def write_candles(self, symbol: str, timeframe: str, rows: list) -> None:
        """Write newly closed candles; an update of the forming candle only refreshes the series' ``at``, at most once
        per CANDLE_REFRESH seconds (a busy market's many updates would otherwise rewrite the whole series each)."""
        now = time.time()
        done = [[int(r[0]), *(float(v) for v in r[1:6])] for r in closed(rows, timeframe, now * 1000)]
        last = done[-1][0] if done else None
        written_open, written_at = self._written.get((symbol, timeframe), (None, 0.0))
        refresh = min(CANDLE_REFRESH, marketcache.stale_seconds() / 4)
        if (last is None or last == written_open) and now - written_at < refresh:
            return
        marketcache.put_candles(self.exchange, symbol, timeframe, done[-2:], at=now, source=self.source)
        self._written[(symbol, timeframe)] = (last if last is not None else written_open, now)

    # --- back-fill -------------------------------------------------------------------------------------------
    def _fetch_gap(self, symbol: str, timeframe: str) -> list:
        """Closed candles since the last cached one (REST), or the last BACKFILL when none are cached."""
        close_old_connections()
        entry = marketcache.candles_entry(self.exchange, symbol, timeframe)
        feed = market_data(self.exchange, self.source)
        if entry and entry["rows"] and entry.get("source") == self.source:
            return feed.fetch_ohlcv_since(symbol, timeframe, int(entry["rows"][-1][0]), 1000)
        return feed.fetch_ohlcv(symbol, timeframe, BACKFILL)

    async def backfill(self, symbol: str, timeframe: str) -> None:
        rows = await asyncio.to_thread(self._fetch_gap, symbol, timeframe)
        now = time.time()
        done = [[int(r[0]), *(float(v) for v in r[1:6])] for r in closed(rows, timeframe, now * 1000)]
        # REST has just answered with every candle closed by now: the series is complete up to now.
        marketcache.put_candles(self.exchange, symbol, timeframe, done, at=now, source=self.source)
        self._written[(symbol, timeframe)] = (done[-1][0] if done else None, now)
        self.backfills += 1

    # --- watchers --------------------------------------------------------------------------------------------
    async def _watch_ticker(self, stream: Stream, symbol: str) -> None:
        while True:
            ticker = await stream.watch_ticker(symbol)
            self._seen()
            self.write_ticker(symbol, ticker)

    async def _watch_candles(self, stream: Stream, symbol: str, timeframe: str) -> None:
        await self.backfill(symbol, timeframe)
        while True:
            rows = await stream.watch_ohlcv(symbol, timeframe)
            self._seen()
            self.write_candles(symbol, timeframe, rows)

    def _sync(self, stream: Stream, watchers: dict[tuple, asyncio.Task]) -> None:
        wanted: set[tuple] = set()
        for symbol, timeframes in self.markets.items():
            wanted.add(("ticker", symbol))
            wanted.update(("candles", symbol, tf) for tf in timeframes)
        for key in set(watchers) - wanted:
            watchers.pop(key).cancel()
        for key in sorted(wanted - set(watchers)):
            if key[0] == "ticker":
                coro = self._watch_ticker(stream, key[1])
            else:
                coro = self._watch_candles(stream, key[1], key[2])
            watchers[key] = asyncio.ensure_future(coro)

    async def run(self) -> None:
        attempt = 0
        while True:
            watchers: dict[tuple, asyncio.Task] = {}
            stream: Stream | None = None
            try:
                stream = self.opener(self.exchange, self.source)
                self.kind = stream.kind
                self.connections += 1
                opened = time.time()
                while True:
                    self._sync(stream, watchers)
                    if not watchers:
                        await asyncio.sleep(DEMAND_REFRESH)
                        continue
                    done, _ = await asyncio.wait(
                        list(watchers.values()), timeout=DEMAND_REFRESH, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        if not task.cancelled():
                            task.result()  # a watcher's error (a dropped connection) raises here
                    since = max(self.last_message, opened)
                    if time.time() - since > marketcache.stale_seconds():
                        raise TimeoutError(f"no data for {time.time() - since:.0f} s")
                    if self.last_message > opened:
                        attempt = 0  # data flows again on this connection
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of the connection: reconnect after a backoff
                self.reconnects += 1
                self.last_error = f"{exc.__class__.__name__}: {str(exc)[:200]}"
                delay = backoff(attempt)
                attempt += 1
                logger.warning(
                    "market data %s (%s): %s; reconnecting in %.1f s",
                    self.exchange,
                    self.source,
                    self.last_error,
                    delay,
                )
                await asyncio.sleep(delay)
            finally:
                for task in watchers.values():
                    task.cancel()
                if watchers:
                    await asyncio.gather(*watchers.values(), return_exceptions=True)
                if stream is not None:
                    try:
                        await stream.close()
                    except Exception:  # closing a dead connection may fail; it is gone either way
                        logger.debug("closing the %s stream failed", self.exchange, exc_info=True)


class MarketDataService:
    """Every Feed, kept in line with demand(). ``run()`` until ``stop()``; ``start_thread()`` runs it in a daemon
    thread (the embedded default, tests)."""

    def __init__(self, opener: Callable[[str, str], Stream] = open_stream, refresh: float | None = None) -> None:
        self.opener = opener
        self.refresh = DEMAND_REFRESH if refresh is None else refresh
        self.feeds: dict[tuple[str, str], Feed] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def status(self) -> list[dict]:
        return [feed.status() for feed in list(self.feeds.values())]

    def _demand(self) -> dict[tuple[str, str], dict[str, set[str]]]:
        close_old_connections()
        try:
            return demand()
        finally:
            close_old_connections()

    async def reconcile(self) -> None:
        wanted = await asyncio.to_thread(self._demand)
        for key, markets in wanted.items():
            feed = self.feeds.get(key)
            if feed is None:
                feed = self.feeds[key] = Feed(*key, opener=self.opener)
                feed.task = asyncio.ensure_future(feed.run())
            feed.markets = markets
        for key in set(self.feeds) - set(wanted):
            feed = self.feeds.pop(key)
            if feed.task is not None:
                feed.task.cancel()
        try:
            cache.set(STATUS_KEY, {"at": time.time(), "feeds": self.status()}, timeout=None)
        except Exception:  # the status is informative only
            logger.debug("writing the market-data status failed", exc_info=True)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        try:
            while not self._stop.is_set():
                try:
                    await self.reconcile()
                except Exception:  # e.g. the database away for a moment: try again next round
                    logger.exception("market-data demand refresh failed")
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.refresh)
                except TimeoutError:
                    pass
        finally:
            tasks = [feed.task for feed in self.feeds.values() if feed.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.feeds.clear()

    def start_thread(self) -> MarketDataService:
        self._thread = threading.Thread(target=lambda: asyncio.run(self.run()), daemon=True, name="market-data")
        self._thread.start()
        self._started.wait(10)
        return self

    def stop_soon(self) -> None:
        """Ask run() to finish (from its own event loop, e.g. a signal handler)."""
        if self._stop is not None:
            self._stop.set()

    def stop(self, timeout: float = 10) -> None:
        """Stop the service run by start_thread() and wait for its thread."""
        if self._loop is not None and self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop has already finished
                pass
        if self._thread is not None:
            self._thread.join(timeout)
