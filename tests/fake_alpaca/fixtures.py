"""pytest fixtures for the fake Alpaca server:

    from tests.fake_alpaca.fixtures import alpaca_via_fake, fake_alpaca  # noqa: F401

``fake_alpaca`` starts a FakeAlpaca on a free port for the test; ``alpaca_via_fake`` also points the "alpaca" platform
at it (settings.ALPACA_BASE_URL) with short timeouts and fast retries, so code that connects to Alpaca itself (views,
services, the bot engine) reaches the fake.
"""

import pytest

from tests.fake_alpaca.server import DEFAULT_KEY, DEFAULT_SECRET, FakeAlpaca  # noqa: F401


@pytest.fixture
def fake_alpaca():
    with FakeAlpaca() as fake:
        yield fake


@pytest.fixture
def alpaca_via_fake(fake_alpaca, settings):
    from trading.exchanges import alpaca_adapter
    from trading.exchanges.resilience import reset_buckets

    settings.ALPACA_BASE_URL = fake_alpaca.url
    settings.EXCHANGE_TIMEOUT_MS = 1500
    settings.EXCHANGE_RETRY_BASE_SECONDS = 0.01
    alpaca_adapter.reset_state()
    reset_buckets()
    yield fake_alpaca
    alpaca_adapter.reset_state()
