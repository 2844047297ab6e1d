"""Input validation for the chat endpoints (responses are shaped by chat.payloads)."""

from rest_framework import serializers

from amarktai.api import QUERY_INT_MAX, StrictIntegerField
from chat.commands import COMMAND_TYPES
from chat.selectors import COMMANDS_DEFAULT, COMMANDS_MAX, HISTORY_DEFAULT, HISTORY_MAX

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


class CommandRequestSerializer(serializers.Serializer):
    """POST /api/commands: a command in plain words."""

    prompt = serializers.CharField(max_length=500, trim_whitespace=True)


class CommandConfirmSerializer(serializers.Serializer):
    """POST /api/commands/confirm: the one-time token POST /api/commands returned."""

    confirmation_token = serializers.CharField(max_length=200, trim_whitespace=True)


class CommandHistoryQuerySerializer(serializers.Serializer):
    limit = StrictIntegerField(required=False, min_value=1, max_value=QUERY_INT_MAX, default=COMMANDS_DEFAULT)
    offset = StrictIntegerField(required=False, min_value=0, max_value=QUERY_INT_MAX, default=0)

    def validate_limit(self, value):
        return min(value, COMMANDS_MAX)


class CommandAnalysisSerializer(serializers.Serializer):
    command_type = serializers.ChoiceField(choices=list(COMMAND_TYPES))
    action = serializers.ChoiceField(choices=["apply", "ignore"])
    description = serializers.CharField()
    impact = serializers.CharField()
    parameters = serializers.DictField()
    reason = serializers.CharField(required=False, help_text="Why nothing would change (action: ignore)")
    confirmation_token = serializers.CharField(required=False, help_text="One-time; action: apply only")
    expires_at = serializers.DateTimeField(required=False)


class CommandResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    status = serializers.CharField()
    command_id = serializers.UUIDField()
    analysis = CommandAnalysisSerializer()


class CommandConfirmResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    command_id = serializers.UUIDField(allow_null=True)
    status = serializers.CharField()
    result = serializers.CharField()


class CommandHistoryItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    prompt = serializers.CharField()
    command_type = serializers.CharField(allow_null=True)
    description = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["proposed", "expired", "applied", "partially_applied", "no_change", "failed", "ignored", "rejected"]
    )
    outcome = serializers.CharField()
    timestamp = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    applied_at = serializers.DateTimeField(allow_null=True)


class CommandHistoryResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    commands = CommandHistoryItemSerializer(many=True)
    total = StrictIntegerField()
