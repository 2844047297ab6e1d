import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet


class Instrument(models.Model):
    """One market on a user's watch list: exchange + symbol, the user's notes and optional price alerts.

    An alert level fires once (``*_fired_at`` / ``*_fired_price`` record it) when the market's last price is at or
    beyond it (market.services.check_price_alerts); setting the level again re-arms it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="instruments")
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    notes = models.CharField(max_length=500, blank=True, default="")
    alert_above = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    alert_above_fired_at = models.DateTimeField(null=True, blank=True)
    alert_above_fired_price = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    alert_below = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    alert_below_fired_at = models.DateTimeField(null=True, blank=True)
    alert_below_fired_price = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["exchange", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["user", "exchange", "symbol"], name="instrument_once_per_user"),
        ]
        indexes = [models.Index(fields=["exchange", "symbol"], name="instrument_market")]

    def __str__(self):
        return f"{self.exchange} {self.symbol}"
