"""The market-data cache: the latest ticker, order-book levels and closed candles of each market, shared by every
process and every tenant.

The market-data service (one process for the platform; in the embedded default a thread of the one process) holds one
streaming connection per exchange and writes here; bots, the market endpoints and the WebSocket read from here. It
lives in Django's cache: Redis in production, local memory in the embedded default (where writer and readers share the
one process).

Every entry carries ``at``: when the service received it (epoch seconds). Readers say how old they accept
(``max_age``); an entry older than that is treated as missing, never silently used (a live bot's tick fails and says
why: ``StaleMarketData``).

Writers: put_ticker / put_book / put_candles. Each write calls the listeners registered with add_listener(fn) as
``fn(kind, exchange, symbol, data)`` (kind "ticker", "book" or "candles"): the WebSocket fan-out of ``market_update``
registers one. Listeners run in the writer's process and must be quick and never raise (errors are logged).

Demand: what markets someone needs now (an active bot, an open chart, a WebSocket subscription). want(exchange,
symbol) marks a market wanted for ``ttl`` seconds (callers renew it); wanted() lists them for the service to stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache

from amarktai.errors import ProviderError

logger = logging.getLogger(__name__)

KEEP_CANDLES = 1000
DEMAND_KEY = "md:demand"
Listener = Callable[[str, str, str, Any], None]
_listeners: list[Listener] = []


class StaleMarketData(ProviderError):
    """The cached data of a market is missing or older than the reader accepts."""


def stale_seconds() -> float:
    """How old market data a live decision accepts (settings.MARKET_DATA_STALE_SECONDS)."""
    return float(settings.MARKET_DATA_STALE_SECONDS)


def _key(kind: str, exchange: str, symbol: str, extra: str = "") -> str:
    return f"md:{kind}:{exchange}:{symbol}:{extra}".replace(" ", "_")


def add_listener(fn: Listener) -> None:
    if fn not in _listeners:
        _listeners.append(fn)


def remove_listener(fn: Listener) -> None:
    if fn in _listeners:
        _listeners.remove(fn)


def _notify(kind: str, exchange: str, symbol: str, data: Any) -> None:
    for fn in list(_listeners):
        try:
            fn(kind, exchange, symbol, data)
        except Exception:  # a listener's failure must not stop the feed
            logger.exception("market-data listener %r failed", fn)


def _fresh(entry: dict | None, max_age: float | None, now: float | None) -> dict | None:
    if not entry:
        return None
    if max_age is not None and (now if now is not None else time.time()) - float(entry["at"]) > max_age:
        return None
    return entry


# --- tickers ---------------------------------------------------------------------------------------------------
def put_ticker(exchange: str, symbol: str, ticker: dict, at: float | None = None, source: str | None = None) -> None:
    """Store the latest ticker (ccxt's unified ticker dict) of a market. ``source`` ("simulated" or "live"): what the
    data came from (a live bot decides only on "live" data)."""
    entry = {"ticker": ticker, "at": at if at is not None else time.time(), "source": source}
    cache.set(_key("ticker", exchange, symbol), entry, timeout=None)
    _notify("ticker", exchange, symbol, entry)


def ticker_entry(exchange: str, symbol: str, max_age: float | None = None, now: float | None = None) -> dict | None:
    """{"ticker": {...}, "at": epoch} or None when missing or older than ``max_age`` seconds."""
    return _fresh(cache.get(_key("ticker", exchange, symbol)), max_age, now)


def ticker(exchange: str, symbol: str, max_age: float | None = None) -> dict | None:
    entry = ticker_entry(exchange, symbol, max_age)
    return entry["ticker"] if entry else None


# --- order books -----------------------------------------------------------------------------------------------
def put_book(
    exchange: str, symbol: str, bids: list, asks: list, at: float | None = None, source: str | None = None
) -> None:
    """Store the top order-book levels ([[price, amount], ...], best first) of a market."""
    entry = {"bids": bids, "asks": asks, "at": at if at is not None else time.time(), "source": source}
    cache.set(_key("book", exchange, symbol), entry, timeout=None)
    _notify("book", exchange, symbol, entry)


def book(exchange: str, symbol: str, max_age: float | None = None, now: float | None = None) -> dict | None:
    """{"bids": [...], "asks": [...], "at": epoch} or None."""
    return _fresh(cache.get(_key("book", exchange, symbol)), max_age, now)


# --- candles ---------------------------------------------------------------------------------------------------
def put_candles(
    exchange: str, symbol: str, timeframe: str, rows: list, at: float | None = None, source: str | None = None
) -> None:
    """Merge closed candles ([[open_ms, o, h, l, c, v], ...]) into the market's series, by open time; the latest
    KEEP_CANDLES are kept. ``at`` says the series is complete up to then (the service writes it, with no new rows, on
    every update of the candle still forming). Candles of another ``source`` than the stored series' replace it."""
    key = _key("candles", exchange, symbol, timeframe)
    entry = cache.get(key) or {"rows": [], "at": 0}
    if entry.get("source") != source:
        entry = {"rows": [], "at": 0}
    merged = {int(r[0]): list(r) for r in entry["rows"]}
    for r in rows:
        merged[int(r[0])] = list(r)
    series = [merged[t] for t in sorted(merged)][-KEEP_CANDLES:]
    new = {"rows": series, "at": at if at is not None else time.time(), "source": source}
    cache.set(key, new, timeout=None)
    _notify("candles", exchange, symbol, {"timeframe": timeframe, "rows": rows, "at": new["at"], "source": source})


def candles_entry(
    exchange: str, symbol: str, timeframe: str, max_age: float | None = None, now: float | None = None
) -> dict | None:
    """{"rows": [...] (oldest first), "at": epoch, "source": ...} or None."""
    return _fresh(cache.get(_key("candles", exchange, symbol, timeframe)), max_age, now)


def candles(exchange: str, symbol: str, timeframe: str, limit: int, max_age: float | None = None) -> list | None:
    entry = candles_entry(exchange, symbol, timeframe, max_age)
    return entry["rows"][-limit:] if entry else None


# --- demand ----------------------------------------------------------------------------------------------------
def want(exchange: str, symbol: str, ttl: float = 120, now: float | None = None) -> None:
    """Mark a market wanted for ``ttl`` seconds (renew it while needed)."""
    now = now if now is not None else time.time()
    demand = {k: v for k, v in (cache.get(DEMAND_KEY) or {}).items() if v > now}
    demand[f"{exchange}|{symbol}"] = max(demand.get(f"{exchange}|{symbol}", 0), now + ttl)
    cache.set(DEMAND_KEY, demand, timeout=None)


def wanted(now: float | None = None) -> set[tuple[str, str]]:
    """The (exchange, symbol) markets someone wants now."""
    now = now if now is not None else time.time()
    return {tuple(k.split("|", 1)) for k, v in (cache.get(DEMAND_KEY) or {}).items() if v > now}  # type: ignore[misc]
