from rest_framework import serializers

from amarktai.api import StrictDecimalField
from bots.models import BotStatus, RiskMode, TradingMode
from bots.strategies import STRATEGIES
from trading.serializers import Count, Number, ValuationSerializer


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


class MetricsSerializer(ValuationSerializer):
    """GET /api/metrics "metrics": money in the user's base currency (``currency``), converted by trading.valuation."""

    total_profit = Number(help_text="Realised P&L (bots' booked profit and your own trades).")
    total_capital = Number(help_text="The bots' current capital.")
    active_bots = Count()
    total_bots = Count()
    win_rate = Number()
    exposure = Number(help_text="Open positions' value as a % of total capital.")
    risk_level = serializers.CharField(help_text="low, moderate or high")
    realised_pnl = Number()
    unrealised_pnl = Number(help_text="Open positions at current prices (priced ones only).")
    total_pnl = Number(help_text="realised_pnl + unrealised_pnl.")
    daily_pnl = Number(help_text="P&L realised today (UTC).")
    open_positions = Count()
    positions_without_price = Count()


class MetricsResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    metrics = MetricsSerializer()
