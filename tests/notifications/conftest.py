import pytest

from tests.fake_telegram.server import FakeTelegram
from tests.notifications.receiver import WebhookReceiver


@pytest.fixture
def inline_delivery(monkeypatch):
    """Attempts (and their retries, without waiting) run at once in the calling thread."""
    from notifications.services import delivery

    monkeypatch.setattr(delivery, "INLINE", True)


@pytest.fixture
def fake_telegram(settings):
    with FakeTelegram() as fake:
        settings.TELEGRAM_API_BASE = fake.url
        settings.TELEGRAM_BOT_TOKEN = fake.token
        yield fake


@pytest.fixture
def receiver():
    with WebhookReceiver() as hook:
        yield hook


def wait_for(predicate, timeout=10.0, every=0.05):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")
