"""Celery: a Redis broker in production; without REDIS_URL, tasks run eagerly in the calling process and the embedded
scheduler (bots.scheduler) does beat's work inside the web process."""

from amarktai.settings.base import REDIS_URL, VAR_DIR
from amarktai.settings.env import env_float, env_int
from amarktai.settings.market_feeds import MARKET_INDEX_SECONDS, MARKET_SCAN_SECONDS
from amarktai.settings.notifications import TELEGRAM_POLL_SECONDS
from amarktai.settings.ranking import RANKING_SECONDS

__all__ = [
    "BOT_TICK_SECONDS",
    "CELERY_BEAT_SCHEDULE",
    "CELERY_BEAT_SCHEDULE_FILENAME",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
    "CELERY_BROKER_URL",
    "CELERY_HEALTH_CACHE_SECONDS",
    "CELERY_RESULT_BACKEND",
    "CELERY_TASK_ACKS_LATE",
    "CELERY_TASK_ALWAYS_EAGER",
    "CELERY_TASK_EAGER_PROPAGATES",
    "CELERY_TASK_REJECT_ON_WORKER_LOST",
    "CELERY_TIMEZONE",
    "CELERY_WORKER_PREFETCH_MULTIPLIER",
    "PRICE_ALERT_SECONDS",
    "SIGNAL_PRUNE_SECONDS",
]

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
# A task whose worker died (acks_late, never acknowledged) is handed to another worker after this many seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# How long /api/health/components keeps the answer of a worker ping.
CELERY_HEALTH_CACHE_SECONDS = env_int("CELERY_HEALTH_CACHE_SECONDS", 15)

# Seconds between two ticks of one bot; the dispatcher runs twice as often.
BOT_TICK_SECONDS = env_float("BOT_TICK_SECONDS", 10)
# Seconds between two checks of the watch lists' price alerts (one ticker per watched market).
PRICE_ALERT_SECONDS = env_float("PRICE_ALERT_SECONDS", 30)
# Seconds between two prunes of old strategy signals (SIGNAL_RETENTION_DAYS).
SIGNAL_PRUNE_SECONDS = 3600.0
# Beat's record of when each entry last ran: in the var directory (AMARKTAI_VAR_DIR), not in the working directory,
# which in production is a read-only checkout. `celery beat -s PATH` still overrides it.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "dispatch-bot-ticks": {"task": "bots.dispatch_ticks", "schedule": max(BOT_TICK_SECONDS / 2, 1.0)},
    "sync-open-orders": {"task": "trading.sync_open_orders", "schedule": 15.0},
    "check-price-alerts": {"task": "market.check_price_alerts", "schedule": PRICE_ALERT_SECONDS},
    "market-scan": {"task": "market.scan", "schedule": MARKET_SCAN_SECONDS},
    "market-indices": {"task": "market.refresh_indices", "schedule": MARKET_INDEX_SECONDS},
    "prune-signals": {"task": "bots.prune_signals", "schedule": SIGNAL_PRUNE_SECONDS},
    "notifications-periodic": {"task": "notifications.periodic", "schedule": 300.0},
    "notifications-telegram-updates": {"task": "notifications.poll_telegram", "schedule": TELEGRAM_POLL_SECONDS},
    "rank-models": {"task": "ranking.rank_models", "schedule": RANKING_SECONDS, "options": {"queue": "research"}},
}
