"""Input validation for the wallet endpoints (responses are shaped by wallets.payloads)."""

from decimal import Decimal

from rest_framework import serializers

from amarktai.api import StrictDecimalField


class KeyTestSerializer(serializers.Serializer):
    provider = serializers.CharField(max_length=32, required=False, allow_blank=True)
    api_key = serializers.CharField(max_length=512, required=False, allow_blank=True, trim_whitespace=True)
    api_secret = serializers.CharField(max_length=2048, required=False, allow_blank=True, trim_whitespace=True)
    passphrase = serializers.CharField(max_length=256, required=False, allow_blank=True, trim_whitespace=True)
    credential_id = serializers.UUIDField(required=False, allow_null=True)

    def validate(self, attrs):
        if not attrs.get("credential_id") and not attrs.get("provider"):
            raise serializers.ValidationError({"provider": ["This field is required."]})
        return attrs


class CredentialCreateSerializer(serializers.Serializer):
    provider = serializers.CharField(max_length=32)
    api_key = serializers.CharField(max_length=512)
    api_secret = serializers.CharField(max_length=2048)
    passphrase = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")
    label = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class CredentialUpdateSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=64, required=False, allow_blank=True)
    api_key = serializers.CharField(max_length=512, required=False)
    api_secret = serializers.CharField(max_length=2048, required=False)
    passphrase = serializers.CharField(max_length=256, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Nothing to update"]})
        return attrs


class TransferSerializer(serializers.Serializer):
    from_provider = serializers.CharField(max_length=32)
    to_provider = serializers.CharField(max_length=32)
    amount = StrictDecimalField(
        max_digits=30, decimal_places=12, min_value=Decimal("0.000000000001"), coerce_to_string=False
    )
    currency = serializers.CharField(max_length=16)
    reason = serializers.CharField(max_length=64, required=False, allow_blank=True, default="manual_allocation")


# What the person filling in the transfer form calls each field (messages never show the field keys).
TRANSFER_LABELS = {
    "from_provider": "From",
    "to_provider": "To",
    "amount": "Amount",
    "currency": "Currency",
    "reason": "Reason",
}

# The same for the stored-key forms.
KEY_LABELS = {
    "provider": "Exchange",
    "api_key": "API key",
    "api_secret": "API secret",
    "passphrase": "Passphrase",
    "label": "Label",
    "credential_id": "Stored key",
}
