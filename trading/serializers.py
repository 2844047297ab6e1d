from rest_framework import serializers

from trading.models import OrderStatus


class TradeFilterSerializer(serializers.Serializer):
    bot_id = serializers.UUIDField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    offset = serializers.IntegerField(min_value=0, default=0)


class OrderFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class OrderCreateSerializer(serializers.Serializer):
    exchange = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=["buy", "sell"])
    type = serializers.ChoiceField(choices=["market", "limit"], default="market")
    amount = serializers.DecimalField(max_digits=24, decimal_places=8, min_value=0)
    price = serializers.DecimalField(max_digits=24, decimal_places=8, min_value=0, required=False, allow_null=True)


class OrderModifySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=24, decimal_places=8, min_value=0, required=False)
    price = serializers.DecimalField(max_digits=24, decimal_places=8, min_value=0, required=False)
