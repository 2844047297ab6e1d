"""Input validation for /api/backtests (responses are shaped by research.payloads)."""

from decimal import Decimal

from rest_framework import serializers

from amarktai.api import StrictDecimalField, StrictIntegerField
from bots.models import RiskMode
from bots.strategies import INDICATOR_STRATEGIES
from trading.exchanges.simfeed import TIMEFRAMES
from trading.platforms import PLATFORMS


class BacktestCreateSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(
        choices=sorted(INDICATOR_STRATEGIES), help_text="The strategy, as a bot would run it"
    )
    params = serializers.DictField(required=False, help_text="The strategy's parameters (as on a bot)")
    exchange = serializers.ChoiceField(choices=sorted(PLATFORMS), default="binance")
    symbol = serializers.CharField(max_length=32, default="BTC/USDT")
    timeframe = serializers.ChoiceField(choices=list(TIMEFRAMES), default="1h")
    start = serializers.DateTimeField(required=False, help_text="Start of the range (or give days)")
    end = serializers.DateTimeField(required=False, help_text="End of the range (default: now)")
    days = StrictIntegerField(min_value=1, max_value=3650, required=False, help_text="Days back from end (default 30)")
    initial_capital = StrictDecimalField(
        max_digits=20,
        decimal_places=8,
        min_value=Decimal("1"),
        max_value=Decimal("1000000000"),
        default=Decimal("10000"),
    )
    fee_rate = StrictDecimalField(
        max_digits=10,
        decimal_places=8,
        min_value=Decimal("0"),
        max_value=Decimal("0.1"),
        required=False,
        allow_null=True,
        help_text="Fee per fill as a fraction (default: the exchange's paper taker fee)",
    )
    slippage = StrictDecimalField(
        max_digits=10,
        decimal_places=8,
        min_value=Decimal("0"),
        max_value=Decimal("0.1"),
        required=False,
        allow_null=True,
        help_text="Fixed slippage as a fraction of the touch price (default: the paper exchange's order-book model)",
    )
    risk_mode = serializers.ChoiceField(choices=RiskMode.values, default=RiskMode.BALANCED)
    walk_forward = serializers.BooleanField(default=False, help_text="Also report in-sample (70 %) vs out-of-sample")
    monte_carlo = StrictIntegerField(
        min_value=0, max_value=1000, default=0, help_text="Reshuffles of the trade order for a drawdown distribution"
    )

    def validate(self, attrs):
        platform = PLATFORMS[attrs["exchange"]]
        symbol = attrs["symbol"].upper()
        if symbol not in platform.symbols:
            raise serializers.ValidationError({"symbol": [f"{platform.name} has no market {symbol}"]})
        attrs["symbol"] = symbol
        if attrs.get("start") and attrs.get("days"):
            raise serializers.ValidationError({"days": ["give start or days, not both"]})
        if attrs.get("start") and attrs.get("end") and attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["must be after start"]})
        return attrs


class BacktestListSerializer(serializers.Serializer):
    limit = StrictIntegerField(min_value=1, max_value=200, default=50)
