from rest_framework import serializers

from amarktai.api import StrictDecimalField
from bots.models import BotStatus, RiskMode, TradingMode
from bots.strategies import STRATEGIES


class BotCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    exchange = serializers.CharField(max_length=32)
    trading_mode = serializers.ChoiceField(choices=TradingMode.values, default="paper")
    risk_mode = serializers.ChoiceField(choices=RiskMode.values, default="balanced")
    initial_capital = StrictDecimalField(max_digits=20, decimal_places=8, min_value=0)
    strategy = serializers.ChoiceField(choices=list(STRATEGIES), default="momentum")
    symbol = serializers.CharField(max_length=32, required=False, allow_blank=True)
    params = serializers.DictField(required=False)


class BotUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    risk_mode = serializers.ChoiceField(choices=RiskMode.values, required=False)
    strategy = serializers.ChoiceField(choices=list(STRATEGIES), required=False)
    params = serializers.DictField(required=False)


class BotFilterSerializer(serializers.Serializer):
    platform = serializers.CharField(max_length=32, required=False)
    status = serializers.ChoiceField(choices=BotStatus.values, required=False)


class PositionCloseResponse(serializers.Serializer):
    """The answer to a manual exit: the closing order and the position as it stands after it (closed once filled)."""

    success = serializers.BooleanField()
    order = serializers.DictField(help_text="The closing market sell, as in GET /api/orders")
    position = serializers.DictField(
        help_text="id, bot_id, exchange, symbol, side, is_open, amount, entry_price, realised_pnl, opened_at, closed_at"
    )
