import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet


class BacktestStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"


ACTIVE_STATUSES = (BacktestStatus.QUEUED, BacktestStatus.RUNNING)


class Backtest(models.Model):
    """One backtest run: its inputs, its progress, and its result (research.backtest.BacktestResult.as_dict())."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests")
    strategy = models.CharField(max_length=32)
    params = models.JSONField(default=dict, blank=True)
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=8)
    start = models.DateTimeField()
    end = models.DateTimeField()
    initial_capital = models.DecimalField(max_digits=24, decimal_places=8)
    fee_rate = models.DecimalField(max_digits=10, decimal_places=8)
    slippage = models.DecimalField(max_digits=10, decimal_places=8, null=True, blank=True)  # null: the book model
    risk_mode = models.CharField(max_length=16, default="balanced")
    walk_forward = models.BooleanField(default=False)
    monte_carlo = models.PositiveIntegerField(default=0)  # reshuffles of the trade order (0: none)
    source = models.CharField(max_length=16, default="simulated")  # where its candles come from
    status = models.CharField(max_length=16, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    result = models.JSONField(null=True, blank=True)
    metrics = models.JSONField(null=True, blank=True)  # a copy of result["metrics"], so lists need not load results
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "status"]), models.Index(fields=["user", "created_at"])]

    def __str__(self):
        return f"{self.strategy} {self.symbol} {self.timeframe} ({self.status})"


class Candle(models.Model):
    """The OHLCV history cache: one closed candle of one market, fetched once from its source and shared by every
    tenant's backtests (not user data)."""

    source = models.CharField(max_length=16)  # "simulated" or "live"
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=8)
    ts = models.BigIntegerField()  # open time, ms since the epoch
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "exchange", "symbol", "timeframe", "ts"], name="research_candle_unique"
            )
        ]

    def __str__(self):
        return f"{self.exchange} {self.symbol} {self.timeframe} {self.ts}"
