"""Input validation for the wallet endpoints (responses are shaped by wallets.payloads)."""

from decimal import Decimal

from rest_framework import serializers

from amarktai.api import StrictDecimalField
from trading.serializers import Count, Number, ValuationSerializer


def _extra_field_names() -> set[str]:
    from trading.platforms import PLATFORMS

    return {extra.name for platform in PLATFORMS.values() for extra in platform.fields}


class ExtrasMixin(serializers.Serializer):
    """A platform's extra credential fields (``/api/providers`` lists them per provider) may be sent at the top level
    (``"client_code": "..."``) or inside ``extra``; they are checked against the provider in the service."""

    extra = serializers.DictField(
        child=serializers.CharField(max_length=2048, allow_blank=True, trim_whitespace=True), required=False
    )
    testnet = serializers.BooleanField(required=False)

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            names = _extra_field_names() & set(data.keys())
            if names:
                data = dict(data.items())
                given = data.get("extra")
                extra = dict(given or {}) if given is None or isinstance(given, dict) else given
                if isinstance(extra, dict):
                    for name in names:
                        extra.setdefault(name, data.pop(name))
                    data["extra"] = extra
        return super().to_internal_value(data)


class KeyTestSerializer(ExtrasMixin):
    provider = serializers.CharField(max_length=32, required=False, allow_blank=True)
    api_key = serializers.CharField(max_length=512, required=False, allow_blank=True, trim_whitespace=True)
    api_secret = serializers.CharField(max_length=2048, required=False, allow_blank=True, trim_whitespace=True)
    passphrase = serializers.CharField(max_length=256, required=False, allow_blank=True, trim_whitespace=True)
    credential_id = serializers.UUIDField(required=False, allow_null=True)

    def validate(self, attrs):
        if not attrs.get("credential_id") and not attrs.get("provider"):
            raise serializers.ValidationError({"provider": ["This field is required."]})
        return attrs


class CredentialCreateSerializer(ExtrasMixin):
    provider = serializers.CharField(max_length=32)
    api_key = serializers.CharField(max_length=512)
    api_secret = serializers.CharField(max_length=2048, required=False, allow_blank=True, default="")
    passphrase = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")
    label = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    accept_withdraw = serializers.BooleanField(required=False, default=False)


class CredentialUpdateSerializer(ExtrasMixin):
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


class AllocationSerializer(serializers.Serializer):
    free = Number(help_text="The account's free balance of this currency.")
    allocated = Number(help_text="Capital given to your bots here and not spent (a claim on free).")
    in_positions = Number(help_text="What your bots' open positions here cost.")
    unallocated = Number(help_text="free - allocated: what a new bot may still be given.")
    bots = Count(help_text="Bots (not stopped) drawing on this account and currency.")


class BalancesResponseSerializer(ValuationSerializer):
    success = serializers.BooleanField()
    balances = serializers.DictField(
        child=serializers.DictField(child=Number()), help_text="{provider: {currency: total}}"
    )
    total_value = Number(help_text="Every balance in the base currency (``currency``).")
    total_value_zar = Number(help_text="The same holdings in ZAR.")
    allocated_to_bots = Number(
        help_text="Your bots' capital on these accounts (unspent allocations + open positions at cost), base currency."
    )
    unallocated = Number(help_text="Free balance not allocated to bots, in the base currency.")
    allocations = serializers.DictField(
        child=serializers.DictField(child=AllocationSerializer()),
        help_text="{provider: {currency: allocation}} for the currencies your bots draw on.",
    )
    mode = serializers.CharField(help_text="paper (testing mode) or live")
    errors = serializers.DictField(child=serializers.CharField(), help_text="{provider: why it could not be read}")


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
