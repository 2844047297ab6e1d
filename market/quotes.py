"""Market reads of GET /api/market/quote, /depth and /ohlcv: the shared market-data cache first, one fetch otherwise.

Every read looks in trading.marketcache (which the market-data service keeps current). A fresh entry (younger than
trading.marketcache.stale_seconds(); candles: one that already holds the last closed candle) is served as it is, with
its age and ``"source": "cache"``. Otherwise the read makes one fetch through trading.exchanges.market_data(...) (the
simulated feed or the exchange's public REST API, the source paper trading uses; the shared rate limiter guards it),
writes the result back to the cache (so the next request, from any user or process, is served from there) and answers
with ``"source": "fetch"``. Every read also marks its market wanted (marketcache.want): an open chart keeps its market
streamed.

Numbers are JSON numbers (floats); ``timestamp`` is ISO 8601 UTC; candle ``time`` is epoch seconds (the candle's open).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from amarktai.utils import iso
from trading import marketcache
from trading.exchanges import market_data, simfeed

# The cache entry of a ticker alone lacks the day's figures: they come from the hourly candles of the last day.
DAY_CANDLES = 24


def _num(value: Any) -> float | None:
    """A finite float, or None for a missing or non-numeric value."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _iso_ms(ms: Any, fallback: float) -> str:
    stamp = _num(ms)
    seconds = stamp / 1000 if stamp is not None else fallback
    return iso(datetime.fromtimestamp(seconds, UTC))


def _age(at: float, now: float) -> float:
    return round(max(now - float(at), 0.0), 3)


def _timeframe_ms(timeframe: str) -> int:
    return simfeed.TIMEFRAMES[timeframe] * 60_000


def _day_stats(rows: list | None) -> dict:
    """high, low, volume and open of the last day from hourly candles (None each when there are none)."""
    if not rows:
        return {}
    rows = rows[-DAY_CANDLES:]
    highs = [h for h in (_num(r[2]) for r in rows) if h is not None]
    lows = [v for v in (_num(r[3]) for r in rows) if v is not None]
    volumes = [v for v in (_num(r[5]) for r in rows) if v is not None]
    return {
        "high": max(highs) if highs else None,
        "low": min(lows) if lows else None,
        "baseVolume": sum(volumes) if volumes else None,
        "open": _num(rows[0][1]),
    }


def _with_day(exchange: str, symbol: str, ticker: dict, fetch: bool) -> dict:
    """The ticker with the day's high/low/volume/open where it lacks them: from the cached hourly candles, or (when
    ``fetch``: the ticker was fetched now) from one fetch of them, written back to the cache."""
    if all(_num(ticker.get(k)) is not None for k in ("high", "low")) and (
        _num(ticker.get("percentage")) is not None or _num(ticker.get("open")) is not None
    ):
        return ticker
    entry = marketcache.candles_entry(exchange, symbol, "1h")
    rows = entry["rows"][-DAY_CANDLES:] if entry else None
    if fetch and not _candles_fresh(entry, "1h", DAY_CANDLES, time.time()):
        rows = _closed(market_data(exchange).fetch_ohlcv(symbol, "1h", DAY_CANDLES + 1), "1h", time.time())
        marketcache.put_candles(exchange, symbol, "1h", rows)
    stats = _day_stats(rows)
    return {**{k: v for k, v in stats.items() if v is not None}, **{k: v for k, v in ticker.items() if v is not None}}


def quote_payload(exchange: str, symbol: str, ticker: dict, at: float, source: str, now: float) -> dict:
    last = _num(ticker.get("last")) or _num(ticker.get("close"))
    change = _num(ticker.get("percentage"))
    opened = _num(ticker.get("open"))
    if change is None and opened and last is not None:
        change = (last / opened - 1) * 100
    volume = _num(ticker.get("baseVolume"))
    if volume is None:
        volume = _num(ticker.get("volume"))
    return {
        "exchange": exchange,
        "symbol": symbol,
        "last": last,
        "bid": _num(ticker.get("bid")),
        "ask": _num(ticker.get("ask")),
        "high": _num(ticker.get("high")),
        "low": _num(ticker.get("low")),
        "volume": volume,
        "change_pct": round(change, 4) if change is not None else None,
        "timestamp": _iso_ms(ticker.get("timestamp"), at),
        "age_seconds": _age(at, now),
        "source": source,
    }


def quote(exchange: str, symbol: str) -> dict:
    """The latest ticker of a market (validated exchange and symbol)."""
    marketcache.want(exchange, symbol)
    now = time.time()
    entry = marketcache.ticker_entry(exchange, symbol, max_age=marketcache.stale_seconds(), now=now)
    if entry is not None:
        ticker = _with_day(exchange, symbol, entry["ticker"], fetch=False)
        return quote_payload(exchange, symbol, ticker, entry["at"], "cache", now)
    ticker = _with_day(exchange, symbol, dict(market_data(exchange).fetch_ticker(symbol)), fetch=True)
    at = time.time()
    marketcache.put_ticker(exchange, symbol, ticker, at=at)
    return quote_payload(exchange, symbol, ticker, at, "fetch", at)


def _levels(rows: list, limit: int) -> list[list[float | None]]:
    return [[_num(r[0]), _num(r[1])] for r in rows[:limit]]


def depth(exchange: str, symbol: str, limit: int) -> dict:
    """The top ``limit`` order-book levels a side, best first."""
    marketcache.want(exchange, symbol)
    now = time.time()
    entry = marketcache.book(exchange, symbol, max_age=marketcache.stale_seconds(), now=now)
    source = "cache"
    if entry is None or (len(entry["bids"]) < limit and len(entry["asks"]) < limit):
        book = market_data(exchange).fetch_order_book(symbol, limit)
        at = time.time()
        bids, asks = _levels(book["bids"], limit), _levels(book["asks"], limit)
        marketcache.put_book(exchange, symbol, bids, asks, at=at)
        entry, source, now = {"bids": bids, "asks": asks, "at": at}, "fetch", at
    return {
        "exchange": exchange,
        "symbol": symbol,
        "bids": _levels(entry["bids"], limit),
        "asks": _levels(entry["asks"], limit),
        "timestamp": iso(datetime.fromtimestamp(float(entry["at"]), UTC)),
        "age_seconds": _age(entry["at"], now),
        "source": source,
    }


def _closed(rows: list, timeframe: str, now: float) -> list:
    """The rows of closed candles (an exchange's answer may end with the forming one)."""
    forming = int(now * 1000) // _timeframe_ms(timeframe) * _timeframe_ms(timeframe)
    return [list(r) for r in rows if int(r[0]) < forming]


def _candles_fresh(entry: dict | None, timeframe: str, limit: int, now: float) -> bool:
    if not entry or len(entry["rows"]) < limit:
        return False
    if now - float(entry["at"]) <= marketcache.stale_seconds():
        return True
    step = _timeframe_ms(timeframe)
    last_closed = int(now * 1000) // step * step - step
    return int(entry["rows"][-1][0]) >= last_closed


def _candle(row: list) -> dict:
    return {
        "time": int(row[0]) // 1000,
        "open": _num(row[1]),
        "high": _num(row[2]),
        "low": _num(row[3]),
        "close": _num(row[4]),
        "volume": _num(row[5]) or 0.0,
    }


def candle_rows(exchange: str, symbol: str, timeframe: str, limit: int) -> list:
    """The last ``limit`` closed candle rows [open_ms, o, h, l, c, v] (cache when fresh, else one fetch)."""
    return _candle_rows(exchange, symbol, timeframe, limit)[0]


def _candle_rows(exchange: str, symbol: str, timeframe: str, limit: int) -> tuple[list, str]:
    entry = marketcache.candles_entry(exchange, symbol, timeframe)
    if entry is not None and _candles_fresh(entry, timeframe, limit, time.time()):
        return entry["rows"][-limit:], "cache"
    fetched = market_data(exchange).fetch_ohlcv(symbol, timeframe, min(limit + 1, marketcache.KEEP_CANDLES))
    rows = _closed(fetched, timeframe, time.time())
    marketcache.put_candles(exchange, symbol, timeframe, rows)
    entry = marketcache.candles_entry(exchange, symbol, timeframe) or {"rows": rows}
    return entry["rows"][-limit:], "fetch"


def ohlcv(exchange: str, symbol: str, timeframe: str, limit: int) -> dict:
    """The last ``limit`` closed candles, oldest first."""
    marketcache.want(exchange, symbol)
    rows, source = _candle_rows(exchange, symbol, timeframe, limit)
    return {
        "exchange": exchange,
        "symbol": symbol,
        "timeframe": timeframe,
        "source": source,
        "candles": [_candle(r) for r in rows],
    }
