from rest_framework import serializers

from amarktai.api import StrictDecimalField


def _level(**kwargs):
    return StrictDecimalField(max_digits=24, decimal_places=8, min_value=0, allow_null=True, **kwargs)


class InstrumentCreateSerializer(serializers.Serializer):
    exchange = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32)
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    alert_above = _level(required=False, default=None, help_text="Alert once when the last price reaches or passes it")
    alert_below = _level(required=False, default=None, help_text="Alert once when the last price falls to it or lower")


class InstrumentUpdateSerializer(serializers.Serializer):
    """Every field optional: only those sent change (null clears an alert level; sending a level re-arms it)."""

    exchange = serializers.CharField(max_length=32, required=False)
    symbol = serializers.CharField(max_length=32, required=False)
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True)
    alert_above = _level(required=False)
    alert_below = _level(required=False)
