"""ccxt.pro public streams: with ccxt_adapter, the only module that imports ccxt (here its ``ccxt.pro`` part).

CcxtProStream(platform_id) is the Stream (trading/exchanges/streams.py) of an exchange ccxt.pro has a class for: its
public WebSocket market streams (watch_ticker, watch_ohlcv), every market over ONE connection (Binance: ccxt.pro would
spread subscriptions over up to 50 connections; ``streamLimits`` of 1 keeps them on one, up to its 1024 streams).
Markets are loaded once per process through the REST adapter (its cache, rate limiting and circuit breaker).

URLs: settings.EXCHANGE_URL_OVERRIDES replaces the REST hosts as for the adapter; settings.EXCHANGE_STREAM_URL_OVERRIDES
= {"binance": "ws://127.0.0.1:PORT/stream"} the hosts of its WebSocket URLs (paths kept), so tests stream from the
fake exchange (tests/fake_exchange/streams.py).
"""

from __future__ import annotations

import asyncio

import ccxt.pro as ccxtpro
from django.conf import settings

from amarktai.errors import ValidationFailed
from trading.exchanges.ccxt_adapter import EXCHANGE_OPTIONS, CcxtExchange, _override_urls
from trading.platforms import get_platform

# One connection per exchange: every market's streams on stream "0". Binance tickers: the full "ticker" stream (it
# carries the best bid and ask, the book top), not the "miniTicker" ccxt.pro's watch_ticker picks by default.
STREAM_OPTIONS = {
    "binance": {
        "watchTickers": {"name": "ticker"},
        "streamLimits": {"spot": 1, "margin": 1, "future": 1, "delivery": 1, "linear": 1, "inverse": 1},
        "subscriptionLimitByStream": {"spot": 1024, "margin": 1024, "future": 200, "delivery": 200},
    },
}


def has_stream(ccxt_id: str) -> bool:
    """Whether ccxt.pro streams this exchange's public market data."""
    return ccxt_id in ccxtpro.exchanges


class CcxtProStream:
    kind = "stream"

    def __init__(self, platform_id: str) -> None:
        platform = get_platform(platform_id)
        if platform is None or not has_stream(platform.ccxt_id):
            raise ValidationFailed(f"{platform_id!r} has no ccxt.pro stream")
        self.platform_id = platform.id
        options = {**EXCHANGE_OPTIONS.get(platform.ccxt_id, {}), **STREAM_OPTIONS.get(platform.ccxt_id, {})}
        self.client = getattr(ccxtpro, platform.ccxt_id)(
            {"enableRateLimit": True, "timeout": int(settings.EXCHANGE_TIMEOUT_MS), "options": options}
        )
        api = dict(self.client.urls["api"])
        ws = api.pop("ws", None)
        rest_base = settings.EXCHANGE_URL_OVERRIDES.get(platform.id)
        stream_base = settings.EXCHANGE_STREAM_URL_OVERRIDES.get(platform.id)
        if rest_base:
            api = _override_urls(api, rest_base)
        if ws is not None:
            api["ws"] = _override_urls(ws, stream_base) if stream_base else ws
        self.client.urls["api"] = api
        self._markets_ready = False

    async def _markets(self) -> None:
        if not self._markets_ready:
            markets = await asyncio.to_thread(CcxtExchange(self.platform_id)._ensure_markets)
            self.client.set_markets(markets)
            self._markets_ready = True

    async def watch_ticker(self, symbol: str) -> dict:
        await self._markets()
        ticker = dict(await self.client.watch_ticker(symbol))
        ticker.pop("info", None)  # the raw message: not kept in the cache
        return ticker

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> list:
        await self._markets()
        return [list(row) for row in await self.client.watch_ohlcv(symbol, timeframe)]

    async def close(self) -> None:
        await self.client.close()
