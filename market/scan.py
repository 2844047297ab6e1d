"""The market scan: every strategy over a watch list of markets, the opportunities ranked by confidence, cached.

run_scan() (beat every MARKET_SCAN_SECONDS; in the embedded default the in-process scheduler) reads each market's
SCAN_CANDLES closed SCAN_TIMEFRAME candles (the shared cache when fresh, else one fetch written back: market.quotes),
asks the evaluator (the strategies live in bots, above this app: bots.apps registers bots.market_scan.evaluate) for
the opportunities on the latest candle, ranks them by confidence and keeps the result in the Django cache (Redis in
production, so every process serves the same scan). Each opportunity not in the previous scan is sent as a ``signal``
to the WebSocket connections subscribed to its market (market.feed).

latest() is what GET /api/market/scan answers: only that cached result, never a call to an exchange (before the first
scan: no opportunities, scanned_at null).

The watch list: every enabled platform's default market plus every market on a user's watch list
(/api/instruments), at most MAX_MARKETS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache

from amarktai.utils import iso
from market import feed, quotes
from market.selectors import watched_markets
from realtime import events
from trading.platforms import PLATFORMS

logger = logging.getLogger(__name__)

SCAN_KEY = "market:scan:latest"
SCAN_TIMEFRAME = "15m"
SCAN_CANDLES = 200
MAX_MARKETS = 200

Evaluator = Callable[[str, str, list], list[dict]]
_evaluator: Evaluator | None = None


def register_evaluator(fn: Evaluator) -> None:
    """bots.apps: ``fn(exchange, symbol, candles) -> [opportunity, ...]`` (bots.market_scan.evaluate)."""
    global _evaluator
    _evaluator = fn


def scan_markets() -> list[tuple[str, str]]:
    """The markets the scan looks at: the platforms' default markets, then the watch lists' (at most MAX_MARKETS)."""
    found: dict[tuple[str, str], None] = {}
    for platform in PLATFORMS.values():
        if platform.enabled:
            found[(platform.id, platform.default_symbol)] = None
    for market in watched_markets():
        found[market] = None
    return list(found)[:MAX_MARKETS]


def empty() -> dict:
    return {"scanned_at": None, "timeframe": SCAN_TIMEFRAME, "markets_scanned": 0, "opportunities": []}


def latest() -> dict:
    """The latest scan from the cache (no exchange is asked, whatever happens)."""
    return cache.get(SCAN_KEY) or empty()


def _price(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return float(f"{number:.10g}")


def run_scan(markets: list[tuple[str, str]] | None = None) -> dict:
    """Scan ``markets`` (default: scan_markets()), cache the ranked result, send new opportunities; returns it."""
    if _evaluator is None:
        raise RuntimeError("no scan evaluator registered (bots.apps registers it)")
    started = time.monotonic()
    markets = scan_markets() if markets is None else markets
    found: list[dict] = []
    failed: list[str] = []
    for exchange, symbol in markets:
        try:
            rows = quotes.candle_rows(exchange, symbol, SCAN_TIMEFRAME, SCAN_CANDLES)
            for item in _evaluator(exchange, symbol, rows):
                found.append(
                    {
                        "exchange": exchange,
                        "symbol": symbol,
                        "strategy": item["strategy"],
                        "signal": item["signal"],
                        "entry_price": _price(item["entry_price"]),
                        "target": _price(item.get("target")),
                        "stop_loss": _price(item.get("stop_loss")),
                        "confidence": float(item["confidence"]),
                        "reason": item["reason"],
                        "candle_ts": item.get("candle_ts"),
                    }
                )
        except Exception:  # one market's failure never stops the scan
            logger.warning("market scan: %s %s failed", exchange, symbol, exc_info=True)
            failed.append(f"{exchange}:{symbol}")
    found.sort(key=lambda o: (-o["confidence"], o["exchange"], o["symbol"], o["strategy"]))
    now = iso(datetime.now(UTC))
    for item in found:
        candle_ts = item.pop("candle_ts")
        item["candle_time"] = iso(datetime.fromtimestamp(candle_ts / 1000, UTC)) if candle_ts else None
    previous = {_key_of(o) for o in latest()["opportunities"]}
    result = {
        "scanned_at": now,
        "timeframe": SCAN_TIMEFRAME,
        "markets_scanned": len(markets) - len(failed),
        "markets_failed": failed,
        "took_ms": int((time.monotonic() - started) * 1000),
        "opportunities": found,
    }
    cache.set(SCAN_KEY, result, timeout=None)
    for item in found:
        if _key_of(item) not in previous:
            feed.send_to_market(
                item["exchange"], item["symbol"], events.SIGNAL, {**item, "timestamp": now, "source": "scan"}
            )
    return result


def _key_of(item: dict) -> tuple:
    return (item["exchange"], item["symbol"], item["strategy"], item["signal"], item.get("candle_time"))
