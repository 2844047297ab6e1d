"""OHLCV history for backtests: fetched once per market from its source (the exchange's public candles through
``trading.exchanges.market_data(...).fetch_ohlcv_since``, paged; the simulated feed offline) and kept in the database
(research.Candle), shared by every tenant: a second backtest over the same range reads the cache only."""

from collections.abc import Callable

import numpy as np

from research.models import Candle
from trading.exchanges import market_data, simfeed

PAGE = 1000


def step_ms(timeframe: str) -> int:
    return simfeed.TIMEFRAMES[timeframe] * 60_000


def _cached_ts(source: str, exchange: str, symbol: str, timeframe: str, first: int, last: int) -> set[int]:
    rows = Candle.objects.filter(
        source=source, exchange=exchange, symbol=symbol, timeframe=timeframe, ts__gte=first, ts__lte=last
    ).values_list("ts", flat=True)
    return set(rows)


def load(
    source: str,
    exchange: str,
    symbol: str,
    timeframe: str,
    start_ms: int,
    end_ms: int,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Closed candles with open time in [start_ms, end_ms) as an (n, 6) float array, oldest first; missing pages are
    fetched from the source and cached. ``progress(fraction)`` after each page fetched."""
    step = step_ms(timeframe)
    first = -(-int(start_ms) // step) * step
    last = (int(end_ms) - 1) // step * step
    if last >= first:
        have = _cached_ts(source, exchange, symbol, timeframe, first, last)
        expected = (last - first) // step + 1
        if len(have) < expected:
            feed = market_data(exchange, source)
            pages = range(first, last + 1, PAGE * step)
            for k, page in enumerate(pages):
                page_last = min(page + (PAGE - 1) * step, last)
                if all(ts in have for ts in range(page, page_last + 1, step)):
                    continue
                count = (page_last - page) // step + 1
                rows = feed.fetch_ohlcv_since(symbol, timeframe, page, count)
                Candle.objects.bulk_create(
                    [
                        Candle(
                            source=source,
                            exchange=exchange,
                            symbol=symbol,
                            timeframe=timeframe,
                            ts=int(row[0]),
                            open=float(row[1]),
                            high=float(row[2]),
                            low=float(row[3]),
                            close=float(row[4]),
                            volume=float(row[5] or 0),
                        )
                        for row in rows
                        if page <= int(row[0]) <= page_last and int(row[0]) not in have
                    ],
                    ignore_conflicts=True,  # another backtest cached the same page meanwhile
                    batch_size=1000,
                )
                if progress is not None:
                    progress((k + 1) / len(pages))
    rows = (
        Candle.objects.filter(
            source=source, exchange=exchange, symbol=symbol, timeframe=timeframe, ts__gte=first, ts__lte=last
        )
        .order_by("ts")
        .values_list("ts", "open", "high", "low", "close", "volume")
    )
    data = np.array(list(rows), dtype=float)
    return data.reshape(-1, 6)
