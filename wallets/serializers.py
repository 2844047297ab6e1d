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
                extra = dict(given) if isinstance(given, dict) else {} if given is None else given
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
    # Keys given in the request that can withdraw pass the test only with this (a stored key uses its own setting).
    accept_withdraw = serializers.BooleanField(required=False, default=False)

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
    # true: the user accepts that these keys can withdraw funds (then a test no longer refuses them); false: refuse.
    accept_withdraw = serializers.BooleanField(required=False)

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


# --- trading accounts (/api/accounts) ------------------------------------------------------------------------------
class AccountCreateSerializer(ExtrasMixin):
    name = serializers.CharField(max_length=64, help_text="Your name for the account (e.g. 'Family', 'Client 2').")
    platform = serializers.CharField(max_length=32, help_text="The exchange or broker (GET /api/providers).")
    trading_mode = serializers.ChoiceField(
        choices=["paper", "live"],
        default="paper",
        help_text="paper: a simulated account of its own (no keys); live: the exchange account of the API keys given.",
    )
    starting_balance = StrictDecimalField(
        max_digits=24,
        decimal_places=8,
        min_value=Decimal("0"),
        max_value=Decimal("1000000000"),
        required=False,
        allow_null=True,
        help_text="Paper accounts: the starting balance in the platform's quote currency (default: the platform's).",
    )
    api_key = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")
    api_secret = serializers.CharField(max_length=2048, required=False, allow_blank=True, default="")
    passphrase = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")
    accept_withdraw = serializers.BooleanField(required=False, default=False)

    def validate_name(self, value):
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()


class AccountUpdateSerializer(ExtrasMixin):
    name = serializers.CharField(max_length=64, required=False)
    api_key = serializers.CharField(max_length=512, required=False)
    api_secret = serializers.CharField(max_length=2048, required=False)
    passphrase = serializers.CharField(max_length=256, required=False, allow_blank=True)
    accept_withdraw = serializers.BooleanField(required=False)

    def validate_name(self, value):
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Nothing to update"]})
        return attrs


class AccountOrderSerializer(serializers.Serializer):
    """POST /api/accounts/{id}/orders: as POST /api/orders, without ``exchange`` (the account's platform)."""

    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=["buy", "sell"])
    type = serializers.ChoiceField(choices=["market", "limit", "stop", "stop_limit"], default="market")
    amount = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0)
    price = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0, required=False, allow_null=True)
    stop_price = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0, required=False, allow_null=True)
    time_in_force = serializers.ChoiceField(choices=["gtc", "day", "ioc"], default="gtc")
    product = serializers.ChoiceField(choices=["MIS", "CNC", "NRML"], required=False, allow_null=True)
    client_order_id = serializers.RegexField(
        r"^[A-Za-z0-9_.:-]{1,64}$",
        max_length=64,
        required=False,
        help_text="Your id for this order (1-64 of A-Z a-z 0-9 _ . : -). Retrying with the same id places nothing new.",
    )


class AccountHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ok", "failing", "unreachable", "untested"],
        help_text="ok: the last test passed; failing: the exchange refused the keys; unreachable: it could not be "
        "reached; untested: never tested since the keys were stored.",
    )
    keys_valid = serializers.BooleanField(allow_null=True)
    last_checked_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)


class AccountSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    platform = serializers.CharField()
    platform_name = serializers.CharField()
    trading_mode = serializers.CharField(help_text="paper or live")
    quote_currency = serializers.CharField(allow_null=True)
    api_key = serializers.CharField(allow_null=True, help_text="The key masked (****1234); null for paper accounts.")
    has_passphrase = serializers.BooleanField()
    testnet = serializers.BooleanField()
    settings = serializers.DictField(child=serializers.CharField())
    permissions = serializers.DictField(child=serializers.BooleanField(), allow_null=True)
    health = AccountHealthSerializer()
    created_at = serializers.DateTimeField()


class AccountResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    account = AccountSerializer()


class AccountListResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    accounts = AccountSerializer(many=True)


class AccountTestResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    ok = serializers.BooleanField(help_text="Whether the connection test passed (the account's health says the same).")
    message = serializers.CharField()
    permissions = serializers.DictField(child=serializers.BooleanField(), allow_null=True)
    account = AccountSerializer()


class AccountBalanceSerializer(serializers.Serializer):
    free = Number()
    used = Number()
    total = Number()


class AccountFundsResponseSerializer(ValuationSerializer):
    success = serializers.BooleanField()
    account_id = serializers.UUIDField()
    trading_mode = serializers.CharField()
    balances = serializers.DictField(child=AccountBalanceSerializer(), help_text="{currency: {free, used, total}}")
    total_value = Number(help_text="Every balance in the base currency (``currency``).")


class AccountFilterSerializer(serializers.Serializer):
    platform = serializers.CharField(max_length=32, required=False)
    trading_mode = serializers.ChoiceField(choices=["paper", "live"], required=False)


class MessageResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class AccountOrdersResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    account_id = serializers.UUIDField()
    orders = serializers.ListField(
        child=serializers.DictField(), help_text="As GET /api/orders lists them (each with account_id)."
    )
    total = Count(help_text="How many orders of the account match in all.")


class AccountOrderResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    order = serializers.DictField(help_text="As GET /api/orders/{id} answers it (with account_id).")


ACCOUNT_LABELS = {
    "name": "Name",
    "platform": "Exchange",
    "trading_mode": "Mode",
    "starting_balance": "Starting balance",
    "api_key": "API key",
    "api_secret": "API secret",
    "passphrase": "Passphrase",
}
