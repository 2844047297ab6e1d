"""Research (the research app): backtests' fairness limits and their Celery queue."""

from amarktai.settings.env import env_int

__all__ = [
    "BACKTEST_DAILY_QUOTA",
    "BACKTEST_MAX_CANDLES",
    "BACKTEST_MAX_CONCURRENT",
    "CELERY_TASK_ROUTES",
]

# Backtests one user may have queued or running at once; more are refused (429) until one finishes.
BACKTEST_MAX_CONCURRENT = env_int("BACKTEST_MAX_CONCURRENT", 2)
# Backtests one user may start per UTC day.
BACKTEST_DAILY_QUOTA = env_int("BACKTEST_DAILY_QUOTA", 50)
# The longest range one backtest may cover, in candles of its timeframe (a year of 1-minute candles by default).
BACKTEST_MAX_CANDLES = env_int("BACKTEST_MAX_CANDLES", 525_600)
# Backtests run on their own queue, never on the one bot ticks use: `celery -A amarktai worker -Q research`.
CELERY_TASK_ROUTES = {"research.*": {"queue": "research"}}
