"""OHLCV history for backtests: paged from the exchange's public API (the fake Binance here), cached in the database,
fetched once."""

import pytest

from research import history
from research.models import Candle
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from trading.exchanges import simfeed

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000


@pytest.mark.django_db
def test_live_history_is_paged_from_the_exchange_and_cached(binance_via_fake):
    n = 2_500  # three pages of at most 1,000
    data = history.load("live", "binance", "BTC/USDT", "1m", START, START + n * MINUTE)
    klines = [r for r in binance_via_fake.requests if r[1] == "/api/v3/klines"]
    assert len(klines) == 3
    assert data.shape == (n, 6)
    assert data[0, 0] == START and data[-1, 0] == START + (n - 1) * MINUTE
    assert (data[1:, 0] - data[:-1, 0] == MINUTE).all()  # no gap, no duplicate across pages
    expected = simfeed.ohlcv("BTC/USDT", "1m", 1, now=(START + MINUTE) / 1000)[0]  # what the fake serves
    assert data[0, 4] == pytest.approx(float(expected[4]))
    assert Candle.objects.filter(source="live", exchange="binance", symbol="BTC/USDT", timeframe="1m").count() == n
    again = history.load("live", "binance", "BTC/USDT", "1m", START, START + n * MINUTE)
    assert len([r for r in binance_via_fake.requests if r[1] == "/api/v3/klines"]) == 3  # served by the cache
    assert (again == data).all()
    # A longer range fetches only the pages it lacks.
    history.load("live", "binance", "BTC/USDT", "1m", START, START + (n + 500) * MINUTE)
    assert len([r for r in binance_via_fake.requests if r[1] == "/api/v3/klines"]) == 4
