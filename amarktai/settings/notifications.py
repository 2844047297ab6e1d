"""Notifications (the notifications app): delivery retries, when a failing channel is switched off, the outgoing HTTP
guard, Telegram. Email goes through Django's email backend (amarktai/settings/email.py)."""

from amarktai.settings.base import REDIS_URL
from amarktai.settings.env import env, env_bool, env_float, env_int

__all__ = [
    "NOTIFY_ALLOW_PRIVATE_TARGETS",
    "NOTIFY_DISABLE_AFTER",
    "NOTIFY_HTTP_TIMEOUT_SECONDS",
    "NOTIFY_MAX_ATTEMPTS",
    "NOTIFY_RETRY_BASE_SECONDS",
    "TELEGRAM_API_BASE",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_POLL_SECONDS",
    "TELEGRAM_WEBHOOK_SECRET",
]

# Attempts per delivery (the first one included); between two, NOTIFY_RETRY_BASE_SECONDS * 2 ** (attempt - 1).
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 5)
NOTIFY_RETRY_BASE_SECONDS = env_float("NOTIFY_RETRY_BASE_SECONDS", 30)
# Failed attempts in a row after which a channel is switched off (and its owner told).
NOTIFY_DISABLE_AFTER = env_int("NOTIFY_DISABLE_AFTER", 10)
# Timeout of one webhook or Telegram request.
NOTIFY_HTTP_TIMEOUT_SECONDS = env_float("NOTIFY_HTTP_TIMEOUT_SECONDS", 10)
# Webhook URLs on loopback, private, link-local or otherwise non-public addresses (SSRF): refused unless this is on. On
# by default only in the embedded default (no REDIS_URL), where the server is a developer's own machine.
NOTIFY_ALLOW_PRIVATE_TARGETS = env_bool("NOTIFY_ALLOW_PRIVATE_TARGETS", not REDIS_URL)

# The Telegram Bot API: its base URL (tests point it at a local fake) and the bot's token from @BotFather (unset: no
# Telegram channel). Updates (/start <code>, /status, /pause, /stop) are fetched with getUpdates every
# TELEGRAM_POLL_SECONDS by beat (or by the embedded scheduler).
TELEGRAM_API_BASE = env("TELEGRAM_API_BASE", "https://api.telegram.org")
TELEGRAM_BOT_TOKEN = env("TELEGRAM_BOT_TOKEN", "")
TELEGRAM_POLL_SECONDS = env_float("TELEGRAM_POLL_SECONDS", 5)
# Set, Telegram pushes updates instead: POST /api/notifications/telegram/webhook/<secret>, checked against Telegram's
# X-Telegram-Bot-Api-Secret-Token header (register it with setWebhook, README "Notifications"); polling stops.
TELEGRAM_WEBHOOK_SECRET = env("TELEGRAM_WEBHOOK_SECRET", "")
