import pytest


@pytest.fixture(autouse=True)
def _inline_research(monkeypatch, settings):
    """Searches and ranking runs happen at once in the test's thread; a short 1-minute window keeps them quick."""
    from ranking import services

    monkeypatch.setattr(services, "INLINE", True)
    settings.RANKING_TIMEFRAME = "1m"
    settings.RANKING_WINDOW_CANDLES = 150
    settings.RANKING_HALF_LIFE_CANDLES = 30
    settings.WANDB_API_KEY = ""
    settings.WANDB_MODE = ""
