"""What a user can be notified of (the event kinds they choose channels for) and the channel kinds."""

from django.db import models


class EventKind(models.TextChoices):
    TRADE_EXECUTED = "trade_executed", "Trade executed"
    BOT_PAUSED = "bot_paused", "Bot paused or failed"
    RISK_LIMIT = "risk_limit", "Risk limit hit"
    DAILY_REPORT = "daily_report", "Daily report"
    NEW_DEVICE = "new_device", "Sign-in from a new device"


# Not chosen by the user: sent to their email channels whatever their preferences (a channel was switched off), and
# the test message of POST /api/notifications/channels/<id>/test.
CHANNEL_DISABLED = "channel_disabled"
TEST = "test"
DELIVERY_KINDS = [*EventKind.values, CHANNEL_DISABLED, TEST]


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    TELEGRAM = "telegram", "Telegram"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"
