from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from amarktai.api import QUERY_INT_MAX, StrictDecimalField, StrictIntegerField
from trading.models import OrderStatus


class TradeFilterSerializer(serializers.Serializer):
    bot_id = serializers.UUIDField(required=False)
    limit = StrictIntegerField(min_value=1, max_value=1000, default=100)
    offset = StrictIntegerField(min_value=0, max_value=QUERY_INT_MAX, default=0)


class OrderFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.values, required=False)
    limit = StrictIntegerField(min_value=1, max_value=1000, default=100)


class OrderCreateSerializer(serializers.Serializer):
    exchange = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=["buy", "sell"])
    type = serializers.ChoiceField(choices=["market", "limit"], default="market")
    amount = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0)
    price = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0, required=False, allow_null=True)
    # The client's own id for the order: sending the same one again (a retry) returns the first order, never a second.
    client_order_id = serializers.RegexField(
        r"^[A-Za-z0-9_.:-]{1,64}$",
        max_length=64,
        required=False,
        help_text="Your id for this order (1-64 of A-Z a-z 0-9 _ . : -). Retrying with the same id places nothing new.",
    )


class OrderModifySerializer(serializers.Serializer):
    amount = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0, required=False)
    price = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0, required=False)


# --- response shapes (OpenAPI documentation of the answers; the payloads are built by selectors) ---------------------
@extend_schema_field(OpenApiTypes.NUMBER)
class Number(serializers.Field):
    """A JSON number in a documented answer (never an input: inputs use amarktai.api's strict number fields)."""

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.INT)
class Count(Number):
    """A JSON integer in a documented answer."""


def _money_map() -> serializers.DictField:
    return serializers.DictField(child=Number())


class ValuationSerializer(serializers.Serializer):
    """The valuation block of every aggregate (trading.valuation): what the totals are in and how they were made."""

    currency = serializers.CharField(help_text="The user's base currency: every total of the answer is in it.")
    rate_source = serializers.CharField(help_text="Where the rates came from: simulated (the offline feed) or live.")
    rates = serializers.DictField(
        child=Number(),
        help_text="For each currency used, the value of one unit in the base currency (the base itself is 1).",
    )
    breakdown = serializers.DictField(
        child=_money_map(),
        help_text="{currency: {figure: amount in that currency}}: each total is the sum of its amounts x rates.",
    )
    unpriced = serializers.DictField(
        child=_money_map(),
        help_text="{currency: {figure: amount}} with no rate: reported here and left out of the totals.",
    )


class PositionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    bot_id = serializers.UUIDField(allow_null=True)
    bot_name = serializers.CharField(allow_null=True)
    trading_mode = serializers.CharField(help_text="paper or live")
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    currency = serializers.CharField(help_text="The market's quote currency: the prices, value and P&L are in it.")
    side = serializers.CharField()
    amount = Number()
    entry_price = Number()
    current_price = Number(allow_null=True, help_text="null: no price could be had (no price).")
    price_source = serializers.CharField(help_text="simulated or live: live bots' positions use their exchange.")
    priced = serializers.BooleanField()
    value = Number(allow_null=True)
    unrealised_pnl = Number(allow_null=True)
    unrealised_pnl_pct = Number(allow_null=True)
    stop_loss = Number(allow_null=True)
    take_profit = Number(allow_null=True)
    opened_at = serializers.DateTimeField()
    age_seconds = Count()


class PositionListResponseSerializer(ValuationSerializer):
    success = serializers.BooleanField()
    positions = PositionSerializer(many=True)
    total = Count()
    no_price = Count(help_text="Open positions without a current price (left out of the totals).")
    value = Number(help_text="The priced positions' value in the base currency.")
    unrealised_pnl = Number(help_text="The priced positions' unrealised P&L in the base currency.")
