"""pytest fixtures for the fake Binance server. Import them into a test module or conftest:

    from tests.fake_exchange.fixtures import fake_exchange, binance_via_fake  # noqa: F401

``fake_exchange`` starts a FakeBinance on a free port for the test; ``binance_via_fake`` also points the "binance"
platform at it (settings.EXCHANGE_URL_OVERRIDES) with short timeouts and fast retries, so code that builds
CcxtExchange("binance", ...) itself (views, services) reaches the fake.
"""

import pytest

from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET, FakeBinance  # noqa: F401


@pytest.fixture
def fake_exchange():
    with FakeBinance() as fake:
        yield fake


@pytest.fixture
def binance_via_fake(fake_exchange, settings):
    from trading.exchanges import ccxt_adapter

    settings.EXCHANGE_URL_OVERRIDES = {"binance": fake_exchange.url}
    settings.EXCHANGE_TIMEOUT_MS = 1500
    settings.EXCHANGE_RETRY_BASE_SECONDS = 0.01
    ccxt_adapter.reset_state()
    yield fake_exchange
    ccxt_adapter.reset_state()


@pytest.fixture
def streams_via_fake(binance_via_fake, settings):
    """binance_via_fake plus its public WebSocket streams (ccxt.pro points at ``fake.streams.url``) and the market-data
    service's read path switched on (settings.MARKET_DATA_SERVICE)."""
    settings.EXCHANGE_STREAM_URL_OVERRIDES = {"binance": binance_via_fake.streams.url}
    settings.MARKET_DATA_SERVICE = True
    yield binance_via_fake
