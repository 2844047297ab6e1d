from rest_framework import serializers


class TradingStopSerializer(serializers.Serializer):
    close_positions = serializers.BooleanField(
        default=False, help_text="Also sell every open bot position at market (orders are always cancelled)."
    )


class SystemControlSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class ConfigImportSerializer(serializers.Serializer):
    document = serializers.JSONField(help_text="A document from POST /api/config/export (version 1).")
    dry_run = serializers.BooleanField(default=False, help_text="Report what would change and change nothing.")
