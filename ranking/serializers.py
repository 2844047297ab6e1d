from decimal import Decimal

from rest_framework import serializers

from amarktai.api import StrictDecimalField, StrictIntegerField
from bots.models import RiskMode
from ranking.models import Optimization
from ranking.scoring import TIMEFRAME_MINUTES
from ranking.spaces import SPACES


class OptimizationCreateSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=sorted(SPACES))
    exchange = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32)
    timeframe = serializers.ChoiceField(choices=list(TIMEFRAME_MINUTES), default="1h")
    method = serializers.ChoiceField(choices=[Optimization.GRID, Optimization.RANDOM], default=Optimization.RANDOM)
    trials = StrictIntegerField(min_value=1, max_value=1000, default=30)
    top_n = StrictIntegerField(min_value=1, max_value=20, default=5)
    candles = StrictIntegerField(min_value=100, max_value=1000, default=500)
    in_sample_ratio = StrictDecimalField(
        max_digits=4, decimal_places=3, min_value=Decimal("0.5"), max_value=Decimal("0.9"), default=Decimal("0.7")
    )
    risk_mode = serializers.ChoiceField(choices=RiskMode.values, default=RiskMode.BALANCED)
    initial_capital = StrictDecimalField(
        max_digits=20, decimal_places=8, min_value=Decimal("1"), default=Decimal("10000")
    )
    seed = StrictIntegerField(min_value=0, max_value=2**31 - 1, required=False, allow_null=True)
    # Narrower ranges than the strategy's declared space: {"fast": {"low": 3, "high": 8, "step": 1}}
    space = serializers.DictField(child=serializers.DictField(), required=False)

    def validate_symbol(self, value):
        value = value.strip().upper()
        if "/" not in value:
            raise serializers.ValidationError("a symbol looks like BTC/USDT")
        return value

    def validate_exchange(self, value):
        return value.strip().lower()


class ModelFilterSerializer(serializers.Serializer):
    exchange = serializers.CharField(max_length=32, required=False)
    symbol = serializers.CharField(max_length=32, required=False)
    strategy = serializers.ChoiceField(choices=sorted(SPACES), required=False)
    limit = StrictIntegerField(min_value=1, max_value=500, default=100)


class TrainSerializer(serializers.Serializer):
    """Leave both out to rank on the markets active bots trade."""

    exchange = serializers.CharField(max_length=32, required=False)
    symbol = serializers.CharField(max_length=32, required=False)

    def validate(self, attrs):
        if bool(attrs.get("exchange")) != bool(attrs.get("symbol")):
            raise serializers.ValidationError({"symbol": ["give both exchange and symbol, or neither"]})
        return attrs


class DeploySerializer(serializers.Serializer):
    model_id = serializers.UUIDField()
    bot_ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=50)


class DeployConfirmSerializer(serializers.Serializer):
    confirmation_token = serializers.CharField(max_length=128)


# Responses (OpenAPI)


class MetricsBlock(serializers.Serializer):
    total_trades = serializers.IntegerField()
    success_rate = serializers.FloatField()
    total_return = serializers.FloatField()
    sharpe_ratio = serializers.FloatField()
    max_drawdown = serializers.FloatField()
    score = serializers.FloatField()


class OptimizationResultSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    model_id = serializers.UUIDField(required=False, help_text="the best set only: its row in GET /api/models")
    params = serializers.DictField()
    in_sample = MetricsBlock()
    out_of_sample = MetricsBlock()


class OptimizationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    strategy = serializers.CharField()
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    method = serializers.CharField()
    space = serializers.DictField()
    trials = serializers.IntegerField()
    top_n = serializers.IntegerField()
    candles = serializers.IntegerField()
    in_sample_ratio = serializers.FloatField()
    risk_mode = serializers.CharField()
    initial_capital = serializers.FloatField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    evaluated = serializers.IntegerField()
    results = OptimizationResultSerializer(many=True)
    ranges = serializers.DictField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class OptimizationResponse(serializers.Serializer):
    success = serializers.BooleanField()
    optimization = OptimizationSerializer()


class OptimizationListResponse(serializers.Serializer):
    success = serializers.BooleanField()
    optimizations = OptimizationSerializer(many=True)
    total = serializers.IntegerField()


class RankedModelSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    rank = serializers.IntegerField()
    name = serializers.CharField()
    strategy = serializers.CharField()
    params = serializers.DictField()
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    total_trades = serializers.IntegerField()
    success_rate = serializers.FloatField()
    total_return = serializers.FloatField()
    sharpe_ratio = serializers.FloatField()
    max_drawdown = serializers.FloatField()
    score = serializers.FloatField()
    window_candles = serializers.IntegerField()
    last_trained = serializers.DateTimeField()


class TrainingRunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    markets = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    scored = serializers.IntegerField()
    error = serializers.CharField()
    mine = serializers.BooleanField()
    periodic = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class RankedModelListItem(RankedModelSerializer):
    your_bots = serializers.IntegerField(help_text="how many of your bots trade this model now")


class ModelListResponse(serializers.Serializer):
    success = serializers.BooleanField()
    models = RankedModelListItem(many=True)
    total = serializers.IntegerField()
    runs = TrainingRunSerializer(many=True)


class TrainResponse(serializers.Serializer):
    success = serializers.BooleanField()
    run = TrainingRunSerializer()
    message = serializers.CharField()


class DeployBotChange(serializers.Serializer):
    bot_id = serializers.UUIDField()
    name = serializers.CharField()
    market = serializers.CharField()
    same_market = serializers.BooleanField()
    to = serializers.DictField()


class DeployResponse(serializers.Serializer):
    success = serializers.BooleanField()
    confirmation_token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    model = RankedModelSerializer()
    bots = DeployBotChange(many=True)
    message = serializers.CharField()


class DeployConfirmResponse(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    bots = serializers.ListField(child=serializers.DictField())
