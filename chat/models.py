import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet


class ChatMessage(models.Model):
    """One message of a user's conversation with the assistant. The auto-increment id orders messages exactly."""

    ROLE_CHOICES = [("user", "user"), ("assistant", "assistant")]

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages")
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    content = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["user", "-id"])]

    def __str__(self):
        return f"{self.role}: {self.content[:60]}"


class PendingAction(models.Model):
    """An action the assistant proposed; it runs only when its owner sends the one-time confirmation token in time.

    Only a SHA-256 of the token is stored. ``consumed_at`` is set by one conditional UPDATE (consumed_at IS NULL and not
    expired), so a replay or two concurrent confirmations cannot both execute it.
    """

    PAUSE = "pause_bots"
    RESUME = "resume_bots"
    STOP = "stop_bots"
    RISK_MODE = "set_risk_mode"
    POSITION_SIZE = "adjust_position_size"
    CLOSE_POSITION = "close_position"
    STOP_LOSS = "set_stop_loss"
    TAKE_PROFIT = "set_take_profit"
    TRADING_STOP = "trading_stop"
    TYPE_CHOICES = [
        (t, t)
        for t in (PAUSE, RESUME, STOP, RISK_MODE, POSITION_SIZE, CLOSE_POSITION, STOP_LOSS, TAKE_PROFIT, TRADING_STOP)
    ]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_actions")
    token_hash = models.CharField(max_length=64, unique=True)
    action_type = models.CharField(max_length=32, choices=TYPE_CHOICES)
    description = models.CharField(max_length=500)
    bot_ids = models.JSONField(default=list)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(blank=True, default="")

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.action_type} ({self.user_id})"


class CommandStatus(models.TextChoices):
    PROPOSED = "proposed"  # analysed, waiting for confirmation (shown as "expired" once its token has)
    APPLIED = "applied"
    PARTIAL = "partially_applied"  # some bots changed, some could not
    NO_CHANGE = "no_change"  # confirmed, but every target was already in that state
    FAILED = "failed"
    IGNORED = "ignored"  # understood, but nothing to do (no token issued)
    REJECTED = "rejected"  # not understood, or it named no bot / several (no token issued)


class CommandRecord(models.Model):
    """One prompt sent to POST /api/commands and what became of it (GET /api/commands/history). A command that can be
    applied links to the PendingAction its confirmation token runs (the assistant's machinery: one code path)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="commands")
    prompt = models.CharField(max_length=500)
    command_type = models.CharField(max_length=32, blank=True)
    description = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=CommandStatus.choices, default=CommandStatus.PROPOSED)
    outcome = models.TextField(blank=True, default="")
    action = models.OneToOneField(
        PendingAction, null=True, blank=True, on_delete=models.SET_NULL, related_name="command"
    )
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"{self.command_type or '?'}: {self.prompt[:60]} ({self.status})"
