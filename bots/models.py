import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet
from bots.listcache import invalidate_bot_list


class BotStatus(models.TextChoices):
    CREATED = "created"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class TradingMode(models.TextChoices):
    PAPER = "paper"
    LIVE = "live"


class RiskMode(models.TextChoices):
    SAFE = "safe"
    BALANCED = "balanced"
    AGGRESSIVE = "aggressive"


class BotQuerySet(OwnedQuerySet):
    def update(self, **kwargs):
        """Queryset updates skip save() and its signals: refresh updated_at and drop the owners' cached bot lists."""
        kwargs.setdefault("updated_at", timezone.now())
        user_ids = set(self.order_by().values_list("user_id", flat=True).distinct())
        count = super().update(**kwargs)
        for user_id in user_ids:
            invalidate_bot_list(user_id)
        return count


class Bot(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bots")
    name = models.CharField(max_length=100)
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=8, default="1m")
    status = models.CharField(max_length=16, choices=BotStatus.choices, default=BotStatus.CREATED, db_index=True)
    trading_mode = models.CharField(max_length=8, choices=TradingMode.choices, default=TradingMode.PAPER)
    risk_mode = models.CharField(max_length=16, choices=RiskMode.choices, default=RiskMode.BALANCED)
    strategy = models.CharField(max_length=32, default="momentum")
    params = models.JSONField(default=dict, blank=True)
    initial_capital = models.DecimalField(max_digits=24, decimal_places=8)
    current_capital = models.DecimalField(max_digits=24, decimal_places=8)
    total_profit = models.DecimalField(max_digits=24, decimal_places=8, default=Decimal("0"))
    last_error = models.TextField(blank=True, default="")
    failure_count = models.PositiveIntegerField(default=0)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    # When the dispatcher should tick the bot next (bots.scheduling); null = due now (a bot that never ticked).
    next_tick_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Admin lock: a bot paused by a platform admin stays paused until an admin releases it (bots.admin_api); its owner
    # cannot resume it meanwhile, and the engine never ticks it. ``paused_by`` is the admin (kept null if the admin
    # account is deleted: the lock stays), ``pause_reason`` the reason the admin gave, shown to the owner.
    paused_by_admin = models.BooleanField(default=False)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pause_reason = models.CharField(max_length=200, blank=True, default="")
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BotQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "exchange", "symbol"]),
            models.Index(fields=["status", "next_tick_at"]),
        ]  # the dispatcher's due query (bots.scheduling)

    def __str__(self):
        return f"{self.name} ({self.exchange} {self.symbol})"

    @property
    def profit_percentage(self):
        if not self.initial_capital:
            return Decimal("0")
        return (self.total_profit / self.initial_capital) * 100
