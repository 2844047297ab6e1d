import datetime

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from amarktai import keyset
from amarktai.api import QUERY_INT_MAX, StrictDecimalField, StrictIntegerField
from trading.models import OrderStatus


class DateOrTimeField(serializers.DateTimeField):
    """An ISO 8601 date ("2026-11-25") or date-time ("2026-11-25T14:00:00Z"). Returns (datetime, whole_day)."""

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value) == 10:
            try:
                day = datetime.date.fromisoformat(value)
            except ValueError:
                self.fail("invalid", format="YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z]")
            start = datetime.datetime.combine(day, datetime.time.min)
            return timezone.make_aware(start, datetime.UTC), True
        return super().to_internal_value(value), False


class TradeFilterSerializer(serializers.Serializer):
    """Filters of GET /api/trades, /api/trades/round-trips and /api/trades/export. ``from``/``to`` take ISO dates or
    date-times; a date in ``to`` includes that whole day (UTC). Validated into selector arguments: bot_id, symbol,
    side, start, end (exclusive)."""

    bot = serializers.UUIDField(required=False, help_text="Only this bot's trades (same as bot_id)")
    bot_id = serializers.UUIDField(required=False, help_text="Only this bot's trades")
    symbol = serializers.RegexField(r"^[A-Za-z0-9]{1,16}/[A-Za-z0-9]{1,16}$", max_length=32, required=False)
    side = serializers.ChoiceField(choices=["buy", "sell"], required=False)
    from_ = DateOrTimeField(required=False, help_text="From this date or time (UTC, inclusive)")
    to = DateOrTimeField(required=False, help_text="Up to this date (the whole day, UTC) or time (inclusive)")
    limit = StrictIntegerField(min_value=1, max_value=1000, default=100)
    offset = StrictIntegerField(min_value=0, max_value=QUERY_INT_MAX, default=0)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # "from" is a Python keyword
        return fields

    def validate(self, attrs):
        if attrs.get("bot") and attrs.get("bot_id") and attrs["bot"] != attrs["bot_id"]:
            raise serializers.ValidationError({"bot": ["bot and bot_id name different bots"]})
        start, _ = attrs.get("from") or (None, False)
        end, whole_day = attrs.get("to") or (None, False)
        if end is not None:
            try:
                end += datetime.timedelta(days=1) if whole_day else datetime.timedelta(microseconds=1)
            except OverflowError:
                end = None  # up to the end of time: no upper bound
        if start is not None and end is not None and start >= end:
            raise serializers.ValidationError({"to": ["must be after from"]})
        out = {
            "bot_id": attrs.get("bot") or attrs.get("bot_id"),
            "symbol": attrs["symbol"].upper() if attrs.get("symbol") else None,
            "side": attrs.get("side"),
            "start": start,
            "end": end,
            "limit": attrs["limit"],
            "offset": attrs["offset"],
        }
        return {k: v for k, v in out.items() if v is not None}


class TradeListSerializer(TradeFilterSerializer):
    """GET /api/trades: the filters, ``limit`` and either ``offset`` or ``cursor`` (the ``next_cursor`` of the previous
    page: each page then costs what the first does, however deep; ``offset`` reads and skips every earlier row)."""

    cursor = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Continue after the previous page: its next_cursor (same filters). Not with offset.",
    )

    def validate(self, attrs):
        out = super().validate(attrs)
        raw = attrs.get("cursor")
        if raw:
            if attrs.get("offset"):
                raise serializers.ValidationError({"cursor": ["give cursor or offset, not both"]})
            try:
                out["cursor"] = keyset.decode(raw)
            except ValueError:
                raise serializers.ValidationError({"cursor": ["not a cursor from this list"]}) from None
            out.pop("offset", None)
        return out


class RoundTripFilterSerializer(TradeFilterSerializer):
    """Filters of the round trips: as the trades' (no side), plus ``status``; dates select by entry time."""

    side = None
    status = serializers.ChoiceField(choices=["open", "closed"], required=False)

    def validate(self, attrs):
        out = super().validate(attrs)
        if attrs.get("status"):
            out["status"] = attrs["status"]
        return out


class TradeExportSerializer(TradeFilterSerializer):
    """GET /api/trades/export: the trades' filters (every matching trade, no paging) and the file format."""

    limit = None
    offset = None
    format = serializers.ChoiceField(
        choices=["csv"],
        default="csv",
        error_messages={"invalid_choice": '"{input}" is not a supported format: use csv'},
    )

    def validate(self, attrs):
        format_ = attrs["format"]
        out = super().validate({**attrs, "limit": 0, "offset": 0})
        del out["limit"], out["offset"]
        return {**out, "format": format_}


class OrderFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.values, required=False)
    limit = StrictIntegerField(min_value=1, max_value=1000, default=100)


class OrderCreateSerializer(serializers.Serializer):
    exchange = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=["buy", "sell"])
    type = serializers.ChoiceField(
        choices=["market", "limit", "stop", "stop_limit"],
        default="market",
        help_text="stop: a market order once the last price reaches stop_price (a buy at or above it, a sell at or "
        "below); stop_limit: a limit order at price once it is reached.",
    )
    amount = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0)
    price = StrictDecimalField(max_digits=24, decimal_places=8, min_value=0, required=False, allow_null=True)
    stop_price = StrictDecimalField(
        max_digits=24,
        decimal_places=8,
        min_value=0,
        required=False,
        allow_null=True,
        help_text="The trigger of a stop or stop_limit order (required by them, refused with other types).",
    )
    time_in_force = serializers.ChoiceField(
        choices=["gtc", "day", "ioc"],
        default="gtc",
        help_text="gtc: until canceled; day: canceled at the session's close (crypto: midnight UTC); ioc: what does "
        "not fill at once is canceled (not while a stock market is closed, not for stop orders).",
    )
    product = serializers.ChoiceField(
        choices=["MIS", "CNC", "NRML"],
        required=False,
        allow_null=True,
        help_text="A stock broker's product: MIS intraday, CNC delivery, NRML derivatives (default: the broker's).",
    )
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
    account_id = serializers.UUIDField(allow_null=True, help_text="The trading account it is on (null: the default).")
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


class TradeListItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    bot_id = serializers.UUIDField(allow_null=True)
    bot_name = serializers.CharField(allow_null=True)
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    amount = Number()
    price = Number()
    fee = Number()
    fee_currency = serializers.CharField(allow_blank=True)
    cost = Number()
    profit_loss = Number()
    is_paper = serializers.BooleanField()
    price_source = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True, allow_null=True)
    timestamp = serializers.DateTimeField()


class TradeListResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    trades = TradeListItemSerializer(many=True)
    total = Count(help_text="How many trades match the filters in all.")
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as cursor for the next page (same filters); null on the last page."
    )
