"""Input validation for the chat endpoints (responses are shaped by chat.payloads)."""

from rest_framework import serializers

from amarktai.api import QUERY_INT_MAX, StrictIntegerField
from chat.selectors import HISTORY_DEFAULT, HISTORY_MAX

MAX_MESSAGE_LENGTH = 2000


class ChatRequestSerializer(serializers.Serializer):
    """POST /api/ai/chat: a message, or {"confirm": "<token>"} to run a proposed action."""

    message = serializers.CharField(required=False, max_length=MAX_MESSAGE_LENGTH, trim_whitespace=True)
    confirm = serializers.CharField(required=False, max_length=200, trim_whitespace=True)

    def validate(self, attrs):
        if bool(attrs.get("message")) == bool(attrs.get("confirm")):
            raise serializers.ValidationError({"message": ["Send either a message or a confirmation token (confirm)."]})
        return attrs


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=MAX_MESSAGE_LENGTH, trim_whitespace=True)


class HistoryQuerySerializer(serializers.Serializer):
    limit = StrictIntegerField(required=False, min_value=1, max_value=QUERY_INT_MAX, default=HISTORY_DEFAULT)

    def validate_limit(self, value):
        return min(value, HISTORY_MAX)
