"""pytest fixtures for the fake OpenAlgo gateway:

    from tests.fake_openalgo.fixtures import fake_openalgo  # noqa: F401

``fake_openalgo`` starts a FakeOpenAlgo on a free port with short timeouts and fast retries. No URL override is needed:
a credential's ``host_url`` (the user's own gateway) is simply the fake's ``url``.
"""

import pytest

from tests.fake_openalgo.server import DEFAULT_KEY, FakeOpenAlgo  # noqa: F401


@pytest.fixture
def fake_openalgo(settings, monkeypatch):
    """The fake gateway, with NSE in session (trading.sessions' clock at a Wednesday 10:30 in Mumbai), so a live bot's
    tick is not held back by the market being closed whenever the suite happens to run."""
    from tests.equities import NSE_OPEN
    from trading.exchanges import openalgo_adapter
    from trading.exchanges.resilience import reset_buckets

    monkeypatch.setattr("trading.sessions.now", lambda: NSE_OPEN)
    settings.OPENALGO_ALLOW_PRIVATE_HOSTS = True  # the fake listens on 127.0.0.1
    settings.EXCHANGE_TIMEOUT_MS = 1000
    settings.EXCHANGE_RETRY_BASE_SECONDS = 0.01
    openalgo_adapter.reset_state()
    reset_buckets()
    with FakeOpenAlgo() as fake:
        yield fake
    openalgo_adapter.reset_state()
