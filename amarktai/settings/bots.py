"""The bot engine and the assistant."""

from amarktai.settings.env import env, env_int

__all__ = [
    "BOT_DISPATCH_LIMIT",
    "BOT_MAX_FAILURES",
    "CHAT_CONFIRMATION_TTL_SECONDS",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "DEMO_PASSWORD_CHOSEN",
    "SIGNAL_RETENTION_DAYS",
    "SYSTEM_STATE_CACHE_SECONDS",
    "WEBHOOK_RATE_LIMIT",
    "WEBHOOK_RATE_WINDOW_SECONDS",
    "WEBHOOK_REPLAY_WINDOW_SECONDS",
]

# Failed ticks in a row before a bot is paused and an alert is sent.
BOT_MAX_FAILURES = env_int("BOT_MAX_FAILURES", 5)
# The most bots one dispatcher round sends to the workers (the most overdue first).
BOT_DISPATCH_LIMIT = env_int("BOT_DISPATCH_LIMIT", 20_000)
# Strategy signals (GET /api/signals) older than this many days are deleted by the hourly prune (0: kept forever).
SIGNAL_RETENTION_DAYS = env_int("SIGNAL_RETENTION_DAYS", 90)

# How long a process may act on a cached copy of the platform's trading switch (trading.system) after an admin changed
# it and the cache write failed; normally every process sees the change when it commits.
SYSTEM_STATE_CACHE_SECONDS = env_int("SYSTEM_STATE_CACHE_SECONDS", 5)
# How long an assistant action waits for the user's confirmation.
CHAT_CONFIRMATION_TTL_SECONDS = env_int("CHAT_CONFIRMATION_TTL_SECONDS", 300)
# The demo user that `make run` (manage.py seed_demo) creates.
DEMO_EMAIL = env("DEMO_EMAIL", "demo@amarktai.local")
DEMO_PASSWORD = env("DEMO_PASSWORD", "demo-Trader-2026")
DEMO_PASSWORD_CHOSEN = DEMO_PASSWORD != "demo-Trader-2026"

# Signal bots' webhooks (bots.webhooks): alerts one bot accepts per window (429 beyond), the window's length, and how
# long an alert's id (or, without one, its body) is remembered so a repeat is refused as a replay (409).
WEBHOOK_RATE_LIMIT = env_int("WEBHOOK_RATE_LIMIT", 30)
WEBHOOK_RATE_WINDOW_SECONDS = env_int("WEBHOOK_RATE_WINDOW_SECONDS", 60)
WEBHOOK_REPLAY_WINDOW_SECONDS = env_int("WEBHOOK_REPLAY_WINDOW_SECONDS", 600)
