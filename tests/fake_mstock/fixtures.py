"""pytest fixtures for the fake mStock server. Import them into a test module:

    from tests.fake_mstock.fixtures import fake_mstock, mstock_via_fake  # noqa: F401

``fake_mstock`` starts a FakeMStock on a free port; ``mstock_via_fake`` also points the adapter (the real SDK) at it
through settings.MSTOCK_BASE_URL, with short timeouts and fast retries.
"""

import pytest
from django.core.cache import cache

from tests.fake_mstock.server import FakeMStock


@pytest.fixture
def fake_mstock():
    with FakeMStock() as fake:
        yield fake


@pytest.fixture
def mstock_via_fake(fake_mstock, settings, monkeypatch):
    """The adapter pointed at the fake, with NSE in session (trading.sessions' clock set to a Wednesday 10:30 in
    Mumbai), so a bot's tick is not held back by the market being closed whenever the suite happens to run."""
    from tests.equities import NSE_OPEN
    from trading.exchanges.resilience import reset_buckets

    monkeypatch.setattr("trading.sessions.now", lambda: NSE_OPEN)

    settings.MSTOCK_BASE_URL = fake_mstock.url
    settings.EXCHANGE_TIMEOUT_MS = 1500
    settings.EXCHANGE_RETRY_BASE_SECONDS = 0.01
    reset_buckets()
    cache.delete_many(["exch:cb:mstock:fails", "exch:cb:mstock:open_until", "exch:cb:mstock:probe"])
    yield fake_mstock
    reset_buckets()
