"""Notification channels (email, webhook, Telegram), which event kinds go to which channel, the delivery log, Telegram
link codes, the devices each account signed in from, and the daily reports already sent."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet
from notifications.kinds import ChannelKind, DeliveryStatus, EventKind


class Channel(models.Model):
    """Where a user's notifications go. ``target``: the email address, the webhook URL or the linked Telegram chat id.
    A webhook's signing secret is stored only Fernet-encrypted (wallets.crypto) and shown once, when it is made."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_channels")
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    name = models.CharField(max_length=64, blank=True)
    target = models.CharField(max_length=2048)
    secret_enc = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    failure_count = models.PositiveIntegerField(default=0, help_text="Failed delivery attempts in a row.")
    disabled_reason = models.CharField(max_length=500, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["user", "kind"])]

    def __str__(self):
        return f"{self.kind} {self.name or ''}".strip()

    def __repr__(self):
        return f"<Channel {self.pk} {self.kind}>"  # never the target's secret parts


class Subscription(models.Model):
    """One event kind sent to one channel (GET/PATCH /api/notifications/preferences)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="subscriptions")
    event_kind = models.CharField(max_length=32, choices=EventKind.choices)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "event_kind"], name="notify_subscription_unique")]
        indexes = [models.Index(fields=["user", "event_kind"])]

    def __str__(self):
        return f"{self.event_kind} -> {self.channel_id}"


class NotificationSettings(models.Model):
    """Per user: the time zone their day (and daily report) runs in, and the local hour the report goes out."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    timezone = models.CharField(max_length=64, default="UTC")
    report_hour = models.PositiveSmallIntegerField(default=18)

    objects = OwnedQuerySet.as_manager()

    def __str__(self):
        return f"{self.timezone} {self.report_hour}h"


class Delivery(models.Model):
    """One notification to one channel, and how sending it went (the delivery log)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    event_kind = models.CharField(max_length=32)
    subject = models.CharField(max_length=200)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"]), models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.event_kind} via {self.channel_kind}: {self.status}"


class TelegramLinkCode(models.Model):
    """A one-time code the user sends to the bot as ``/start <code>`` to link that chat to their account. Only its
    SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    def __str__(self):
        return f"link code of {self.user_id}"


class TelegramCursor(models.Model):
    """The next getUpdates offset (one row): updates already handled are never handled again, across restarts."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    next_offset = models.BigIntegerField(default=0)

    def __str__(self):
        return f"offset {self.next_offset}"


class KnownDevice(models.Model):
    """A device an account signed in from: a SHA-256 of the browser family, the OS family and the client's network
    (/24 for IPv4, /48 for IPv6). A sign-in from a new one is announced (event kind new_device)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64)
    label = models.CharField(max_length=200, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "fingerprint"], name="notify_known_device_unique")]

    def __str__(self):
        return self.label


class DailyReport(models.Model):
    """A daily report sent: one per user and local day."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="notify_daily_report_unique")]

    def __str__(self):
        return f"report {self.day}"
