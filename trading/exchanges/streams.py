"""Market-data streams: the exchange side of the market-data service (trading.marketdata).

open_stream(platform_id, source) -> a Stream: ONE connection to one exchange that every market of that exchange is
watched over (the service opens one per exchange and source, however many bots and subscribers want its markets):

- ``await stream.watch_ticker(symbol)`` -> the market's next ticker (ccxt's unified ticker dict: symbol, last, bid,
  ask, bidVolume, askVolume, high, low, baseVolume, percentage, timestamp), waiting for the exchange to send one;
- ``await stream.watch_ohlcv(symbol, timeframe)`` -> the market's latest candles ([[open_ms, o, h, l, c, v], ...],
  oldest first; the last may still be forming);
- ``await stream.close()``.
A dropped connection raises from the watch calls (the service reconnects with backoff and back-fills the gap over REST).

Kinds:
- "stream": ccxt.pro's class for the exchange (trading/exchanges/ccxt_stream.py), its public WebSocket streams;
- "poll": exchanges ccxt.pro has no class for: REST polling every settings.MARKET_DATA_POLL_SECONDS through the
  ordinary adapter (so the platform's rate limiting applies);
- "simulated": the simulated feed (simfeed), delivered the same way every SIMULATED_INTERVAL seconds, so charts,
  subscriptions and bots work offline exactly as they do live.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from django.conf import settings

from trading.exchanges import simfeed
from trading.platforms import get_platform

SIMULATED_INTERVAL = 1.0


class Stream(Protocol):
    kind: str
    platform_id: str

    async def watch_ticker(self, symbol: str) -> dict: ...

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> list: ...

    async def close(self) -> None: ...


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def ticker_dict(symbol: str, t: dict) -> dict:
    """A Decimal ticker of the adapters / simfeed as ccxt's unified (float) ticker dict."""
    return {
        "symbol": symbol,
        "last": _float(t.get("last")),
        "bid": _float(t.get("bid")),
        "ask": _float(t.get("ask")),
        "bidVolume": _float(t.get("bidVolume")),
        "askVolume": _float(t.get("askVolume")),
        "high": _float(t.get("high")),
        "low": _float(t.get("low")),
        "baseVolume": _float(t.get("baseVolume")),
        "percentage": _float(t.get("percentage")),
        "timestamp": int(t.get("timestamp") or time.time() * 1000),
    }


async def _until_next(interval: float) -> None:
    """Sleep to the next multiple of ``interval`` (every watcher of a source wakes at the same beat)."""
    now = time.time()
    await asyncio.sleep(interval - (now % interval) or interval)


class SimulatedStream:
    """The simulated feed, streamed: a new ticker and the latest candles every ``interval`` seconds."""

    kind = "simulated"

    def __init__(self, platform_id: str, interval: float | None = None) -> None:
        self.platform_id = platform_id
        self.interval = interval or SIMULATED_INTERVAL

    async def watch_ticker(self, symbol: str) -> dict:
        await _until_next(self.interval)
        t = simfeed.ticker(symbol)
        day = simfeed.ohlcv(symbol, "1h", 24)
        opened = float(day[0][1])
        last = float(t["last"])
        return {
            **ticker_dict(symbol, t),
            "high": max(float(r[2]) for r in day),
            "low": min(float(r[3]) for r in day),
            "baseVolume": sum(float(r[5]) for r in day),
            "percentage": (last / opened - 1) * 100 if opened else None,
        }

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> list:
        await _until_next(self.interval)
        return [[int(r[0]), *(float(v) for v in r[1:])] for r in simfeed.ohlcv(symbol, timeframe, 2)]

    async def close(self) -> None:
        return None


class PollingStream:
    """REST polling through the platform's ordinary adapter, for exchanges without a ccxt.pro stream."""

    kind = "poll"

    def __init__(self, platform_id: str, interval: float | None = None) -> None:
        from trading.exchanges import public_exchange

        self.platform_id = platform_id
        self.interval = float(interval or settings.MARKET_DATA_POLL_SECONDS)
        self._adapter = public_exchange(platform_id)

    async def watch_ticker(self, symbol: str) -> dict:
        await _until_next(self.interval)
        return ticker_dict(symbol, await asyncio.to_thread(self._adapter.fetch_ticker, symbol))

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> list:
        await _until_next(self.interval)
        rows = await asyncio.to_thread(self._adapter.fetch_ohlcv, symbol, timeframe, 3)
        return [[int(r[0]), *(float(v) for v in r[1:])] for r in rows]

    async def close(self) -> None:
        return None


def streamable(platform_id: str) -> bool:
    """Whether the platform's live data comes as a public stream ccxt.pro speaks (else it is polled)."""
    platform = get_platform(platform_id)
    if platform is None or platform.adapter != "ccxt":
        return False
    from trading.exchanges import ccxt_stream

    return ccxt_stream.has_stream(platform.ccxt_id)


def open_stream(platform_id: str, source: str) -> Stream:
    """The one connection of the market-data service to ``platform_id`` for ``source`` ("simulated" or "live")."""
    if source == "simulated":
        return SimulatedStream(platform_id)
    if streamable(platform_id):
        from trading.exchanges import ccxt_stream

        return ccxt_stream.CcxtProStream(platform_id)
    return PollingStream(platform_id)
