"""Input validation for /api/notifications/... (responses are shaped by notifications.payloads)."""

from rest_framework import serializers

from amarktai.api import StrictIntegerField
from notifications.kinds import ChannelKind, DeliveryStatus, EventKind


class ChannelCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[ChannelKind.EMAIL, ChannelKind.WEBHOOK],
        help_text="email or webhook (Telegram: link a chat with POST /api/notifications/telegram/link)",
    )
    target = serializers.CharField(max_length=2048, help_text="The email address, or the webhook's http(s) URL")
    name = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        email = attrs["kind"] == ChannelKind.EMAIL
        field = serializers.EmailField() if email else serializers.URLField(max_length=2048)
        try:
            attrs["target"] = field.run_validation(attrs["target"])
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"target": exc.detail}) from exc
        return attrs


class ChannelUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    target = serializers.CharField(max_length=2048, required=False)
    enabled = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Nothing to update"]})
        return attrs


class PreferencesSerializer(serializers.Serializer):
    preferences = serializers.DictField(
        child=serializers.ListField(child=serializers.UUIDField(), max_length=20),
        required=False,
        help_text="event kind -> the ids of the channels it goes to (kinds not named keep their channels)",
    )
    timezone = serializers.CharField(max_length=64, required=False, help_text="IANA time zone of your day")
    report_hour = StrictIntegerField(min_value=0, max_value=23, required=False, help_text="Local hour of the report")

    def validate_preferences(self, value):
        unknown = sorted(set(value) - set(EventKind.values))
        if unknown:
            raise serializers.ValidationError(f"unknown event kind(s): {', '.join(unknown)}")
        return value


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.values, required=False)
    channel_id = serializers.UUIDField(required=False)
    limit = StrictIntegerField(min_value=1, max_value=100, default=50)
