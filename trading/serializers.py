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
