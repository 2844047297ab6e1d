"""Parameter searches (Optimization, the user's), the platform-wide strategy ranking (RankedModel, TrainingRun) and
the one-time confirmations of a "deploy to bot" (DeployRequest, the user's)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class Optimization(models.Model):
    """A parameter search of one strategy on one market: the candles are split into an in-sample range (searched) and
    the out-of-sample range after it (each of the top-N parameter sets is replayed there, so overfitting shows)."""

    GRID, RANDOM = "grid", "random"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="optimizations")
    strategy = models.CharField(max_length=32)
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=8)
    method = models.CharField(max_length=8)
    space = models.JSONField(default=dict)
    trials = models.PositiveIntegerField()
    top_n = models.PositiveIntegerField()
    candles = models.PositiveIntegerField()
    in_sample_ratio = models.FloatField()
    risk_mode = models.CharField(max_length=16)
    initial_capital = models.DecimalField(max_digits=20, decimal_places=8)
    seed = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    evaluated = models.PositiveIntegerField(default=0)
    # [{"rank", "params", "in_sample": {metrics}, "out_of_sample": {metrics}}], best in-sample first
    results = models.JSONField(default=list, blank=True)
    # {"in_sample": [first_ts, last_ts], "out_of_sample": [first_ts, last_ts]}
    ranges = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=255, blank=True)
    wandb_run_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "status"], name="optimization_user_status")]

    def __str__(self):
        return f"{self.strategy} on {self.exchange} {self.symbol} ({self.status})"


class RankedModel(models.Model):
    """One strategy x parameter preset scored on one market over the rolling window (platform-wide: no user data)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    strategy = models.CharField(max_length=32)
    params = models.JSONField(default=dict, blank=True)
    params_key = models.CharField(max_length=255)  # canonical JSON of params: the identity of the preset
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=8)
    total_trades = models.PositiveIntegerField(default=0)
    success_rate = models.FloatField(default=0.0)
    total_return = models.FloatField(default=0.0)
    sharpe_ratio = models.FloatField(default=0.0)
    max_drawdown = models.FloatField(default=0.0)
    score = models.FloatField(default=0.0, db_index=True)
    window_candles = models.PositiveIntegerField(default=0)
    trained_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-score", "strategy"]
        constraints = [
            models.UniqueConstraint(
                fields=["strategy", "params_key", "exchange", "symbol", "timeframe"], name="ranked_model_identity"
            )
        ]

    def __str__(self):
        return f"{self.strategy} {self.params_key} on {self.exchange} {self.symbol}: {self.score:.3f}"


class TrainingRun(models.Model):
    """One ranking run (periodic, or asked for with POST /api/models/train). Platform-wide like the models it scores;
    ``requested_by`` (if any) receives its model_training_progress events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    markets = models.JSONField(default=list, blank=True)  # [[exchange, symbol, timeframe], ...]
    scored = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=255, blank=True)
    wandb_run_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"ranking run {self.id} ({self.status})"


class DeployRequest(models.Model):
    """A proposed switch of the user's bots to a ranked model, applied only by confirming its one-time token (only the
    token's SHA-256 is stored)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deploy_requests")
    model = models.ForeignKey(RankedModel, on_delete=models.CASCADE, related_name="deploy_requests")
    bot_ids = models.JSONField(default=list)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"deploy {self.model_id} to {len(self.bot_ids)} bot(s)"
