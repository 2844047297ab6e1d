from rest_framework import serializers

from amarktai.api import StrictDecimalField, StrictIntegerField
from trading.exchanges.simfeed import TIMEFRAMES


def _level(**kwargs):
    return StrictDecimalField(max_digits=24, decimal_places=8, min_value=0, allow_null=True, **kwargs)


class InstrumentCreateSerializer(serializers.Serializer):
    exchange = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32)
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    alert_above = _level(required=False, default=None, help_text="Alert once when the last price reaches or passes it")
    alert_below = _level(required=False, default=None, help_text="Alert once when the last price falls to it or lower")


class InstrumentUpdateSerializer(serializers.Serializer):
    """Every field optional: only those sent change (null clears an alert level; sending a level re-arms it)."""

    exchange = serializers.CharField(max_length=32, required=False)
    symbol = serializers.CharField(max_length=32, required=False)
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True)
    alert_above = _level(required=False)
    alert_below = _level(required=False)


# --- market data (GET /api/market/...) -------------------------------------------------------------------------
def _exchange_choices():
    from trading.platforms import PLATFORMS

    return sorted(pid for pid, platform in PLATFORMS.items() if platform.enabled)


class MarketSerializer(serializers.Serializer):
    """One market of a platform: ``symbol`` must be one the exchange lists (GET /api/exchanges)."""

    exchange = serializers.ChoiceField(choices=_exchange_choices(), help_text="A platform id, e.g. luno")
    symbol = serializers.CharField(max_length=32, help_text="A market of that platform, e.g. BTC/ZAR")

    def validate(self, attrs):
        from trading.platforms import get_platform

        platform = get_platform(attrs["exchange"])
        symbol = attrs["symbol"].strip().upper()
        if symbol not in platform.symbols:
            raise serializers.ValidationError(
                {"symbol": [f"unknown market on {platform.name}: one of {', '.join(platform.symbols)}"]}
            )
        return {**attrs, "exchange": platform.id, "symbol": symbol}


class DepthQuerySerializer(MarketSerializer):
    limit = StrictIntegerField(min_value=1, max_value=100, default=20, help_text="Levels a side")


class OhlcvQuerySerializer(MarketSerializer):
    timeframe = serializers.ChoiceField(choices=list(TIMEFRAMES), default="1m")
    limit = StrictIntegerField(min_value=1, max_value=1000, default=300, help_text="Candles, the latest")


class QuoteSerializer(serializers.Serializer):
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    last = serializers.FloatField(allow_null=True)
    bid = serializers.FloatField(allow_null=True)
    ask = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True, help_text="The last 24 hours' high")
    low = serializers.FloatField(allow_null=True, help_text="The last 24 hours' low")
    volume = serializers.FloatField(allow_null=True, help_text="The last 24 hours' volume in the base currency")
    change_pct = serializers.FloatField(allow_null=True, help_text="Change over the last 24 hours, in percent")
    timestamp = serializers.DateTimeField()
    age_seconds = serializers.FloatField(help_text="How old the data is")
    source = serializers.ChoiceField(
        choices=["cache", "fetch"], help_text="cache: the shared market-data cache; fetch: fetched for this request"
    )


class QuoteResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    quote = QuoteSerializer()


class LevelField(serializers.ListField):
    child = serializers.FloatField()


class DepthSerializer(serializers.Serializer):
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    bids = serializers.ListField(child=LevelField(), help_text="[[price, amount], ...], best (highest) first")
    asks = serializers.ListField(child=LevelField(), help_text="[[price, amount], ...], best (lowest) first")
    timestamp = serializers.DateTimeField()
    age_seconds = serializers.FloatField()
    source = serializers.ChoiceField(choices=["cache", "fetch"])


class DepthResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    depth = DepthSerializer()


class CandleSerializer(serializers.Serializer):
    time = serializers.IntegerField(help_text="The candle's open time, epoch seconds")
    open = serializers.FloatField()
    high = serializers.FloatField()
    low = serializers.FloatField()
    close = serializers.FloatField()
    volume = serializers.FloatField()


class OhlcvResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    source = serializers.ChoiceField(choices=["cache", "fetch"])
    candles = CandleSerializer(many=True, help_text="Closed candles, oldest first")


class ConstituentSerializer(serializers.Serializer):
    asset = serializers.CharField()
    price = serializers.FloatField(help_text="The mean last price over the platforms listing it, in the index's quote")
    weight = serializers.FloatField()


class IndexSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="crypto-<quote> or stocks-<platform>")
    name = serializers.CharField()
    quote = serializers.CharField(help_text="The currency of the constituents' prices")
    kind = serializers.ChoiceField(choices=["crypto", "stocks"])
    value = serializers.FloatField(allow_null=True, help_text="1000 where the constituents' reference prices stand")
    change_pct = serializers.FloatField(allow_null=True, help_text="Change over the last 24 hours, in percent")
    constituents = ConstituentSerializer(many=True)
    missing = serializers.ListField(child=serializers.CharField(), help_text="Constituents without a fresh ticker")
    timestamp = serializers.DateTimeField(allow_null=True, help_text="The newest ticker it was computed from")


class IndicesResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    indices = IndexSerializer(many=True)


class OpportunitySerializer(serializers.Serializer):
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    strategy = serializers.CharField()
    signal = serializers.ChoiceField(choices=["BUY", "SELL"])
    entry_price = serializers.FloatField()
    target = serializers.FloatField(allow_null=True)
    stop_loss = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField(help_text="0-100: the strategy's indicator strength")
    reason = serializers.CharField()
    candle_time = serializers.DateTimeField(allow_null=True, help_text="The candle the strategy decided on")


class ScanResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    scanned_at = serializers.DateTimeField(allow_null=True, help_text="When the scan ran; null before the first")
    timeframe = serializers.CharField()
    markets_scanned = serializers.IntegerField()
    opportunities = OpportunitySerializer(many=True, help_text="Ranked by confidence, highest first")
