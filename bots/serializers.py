from decimal import Decimal

from rest_framework import serializers

from amarktai.api import QUERY_INT_MAX, StrictDecimalField, StrictIntegerField
from bots.models import BotStatus, RiskMode, SignalOutcome, TradingMode, WebhookOutcome
from bots.selectors import decode_signal_cursor
from bots.strategies import STRATEGIES
from trading.serializers import Count, Number, ValuationSerializer


class BotCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    exchange = serializers.CharField(max_length=32)
    trading_mode = serializers.ChoiceField(choices=TradingMode.values, default="paper")
    # Omitted: the default risk mode of the user's risk settings (GET /api/config/risk), else balanced.
    risk_mode = serializers.ChoiceField(choices=RiskMode.values, required=False)
    initial_capital = StrictDecimalField(max_digits=20, decimal_places=8, min_value=0)
    strategy = serializers.ChoiceField(choices=list(STRATEGIES), default="momentum")
    symbol = serializers.CharField(max_length=32, required=False, allow_blank=True)
    params = serializers.DictField(required=False)


class BotUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    account_group_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Trade an account group (GET /api/account-groups): every order goes to each enabled account of "
        "the group, the bot's size being the primary's. null: trade the bot's own book again.",
    )
    risk_mode = serializers.ChoiceField(choices=RiskMode.values, required=False)
    strategy = serializers.ChoiceField(choices=list(STRATEGIES), required=False)
    params = serializers.DictField(required=False)


class BotFilterSerializer(serializers.Serializer):
    platform = serializers.CharField(max_length=32, required=False)
    status = serializers.ChoiceField(choices=BotStatus.values, required=False)


class SignalFilterSerializer(serializers.Serializer):
    """The filters of GET /api/signals (query string) and POST /api/signals/filter (JSON body)."""

    symbol = serializers.RegexField(r"^[A-Za-z0-9]{1,15}/[A-Za-z0-9]{1,15}$", max_length=32, required=False)
    strategy = serializers.ChoiceField(choices=list(STRATEGIES), required=False)
    side = serializers.ChoiceField(choices=["buy", "sell"], required=False)
    outcome = serializers.ChoiceField(choices=SignalOutcome.values, required=False)
    bot_id = serializers.UUIDField(required=False)
    min_confidence = StrictDecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False, help_text="0-100 (%)"
    )
    since = serializers.DateTimeField(required=False, help_text="ISO 8601; signals at or after it")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601; signals before it")
    cursor = serializers.CharField(max_length=200, required=False, help_text="next_cursor of the previous page")
    limit = StrictIntegerField(min_value=1, max_value=200, default=50)

    def validate_cursor(self, value):
        try:
            return decode_signal_cursor(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and since >= until:
            raise serializers.ValidationError({"until": ["must be later than since"]})
        return attrs


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


class PageSerializer(serializers.Serializer):
    limit = StrictIntegerField(min_value=1, max_value=1000, default=100)
    offset = StrictIntegerField(min_value=0, max_value=QUERY_INT_MAX, default=0)


class PositionCloseResponse(serializers.Serializer):
    """The answer to a manual exit: the closing order and the position as it stands after it (closed once filled)."""

    success = serializers.BooleanField()
    order = serializers.DictField(help_text="The closing market sell, as in GET /api/orders")
    position = serializers.DictField(
        help_text="id, bot_id, exchange, symbol, side, is_open, amount, entry_price, realised_pnl, opened_at, closed_at"
    )


class StrategySerializer(serializers.Serializer):
    """One entry of GET /api/strategies: enough for a client to build the strategy's parameter form."""

    id = serializers.CharField(help_text="The value of a bot's ``strategy``")
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField(help_text='"indicator" (decides on candles) or "webhook" (trades on received alerts)')
    params_schema = serializers.DictField(help_text="JSON Schema (an object) of the strategy's ``params``")
    defaults = serializers.DictField(help_text="The values used for the params a bot leaves out")


class StrategyListResponse(serializers.Serializer):
    success = serializers.BooleanField()
    strategies = StrategySerializer(many=True)


class WebhookAlertSerializer(serializers.Serializer):
    """The body of POST /api/webhooks/{token}, for the schema: a TradingView alert (below) or ChartInk's scan payload
    (``stocks``, ``trigger_prices``, ``triggered_at``, ``scan_name``, ``scan_url``, ``alert_name``; the action is a
    word of the scan's name). Parsed by bots.webhooks, which refuses anything else with 400."""

    action = serializers.ChoiceField(choices=["buy", "sell", "close"], help_text="Case-insensitive")
    ticker = serializers.CharField(required=False, help_text="The bot's symbol, e.g. BTCZAR or BTC/ZAR")
    price = Number(required=False, help_text="Recorded with the alert (orders are market orders)")
    size = Number(required=False, help_text="Or quantity: the buy's amount in the base currency")
    id = serializers.CharField(required=False, help_text="Alert id: a repeat within the replay window is refused")


class WebhookEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    received_at = serializers.DateTimeField()
    source = serializers.CharField(help_text="tradingview, chartink or unknown")
    action = serializers.CharField(allow_null=True)
    symbol = serializers.CharField()
    price = Number(allow_null=True)
    size = Number(allow_null=True)
    outcome = serializers.ChoiceField(choices=WebhookOutcome.values)
    code = serializers.CharField(help_text="traded, invalid, replay, paused, position_open, no_position_to_sell, ...")
    reason = serializers.CharField()
    order_id = serializers.UUIDField(allow_null=True)
    payload = serializers.DictField(help_text="The alert as received (bounded)")


class WebhookReceivedResponse(serializers.Serializer):
    success = serializers.BooleanField()
    webhook = WebhookEventSerializer()


class WebhookHistoryResponse(serializers.Serializer):
    success = serializers.BooleanField()
    bot_id = serializers.UUIDField()
    webhooks = WebhookEventSerializer(many=True)
    total = Count()


class WebhookRotateResponse(serializers.Serializer):
    success = serializers.BooleanField()
    bot_id = serializers.UUIDField()
    webhook_url = serializers.CharField(help_text="The new secret URL: shown this once; the old one stops working")


# --- exit plans (PUT /api/positions/{id}/exits) and the bot's history --------------------------------------------
def _pct(low: str, high: int, **kwargs) -> StrictDecimalField:
    return StrictDecimalField(max_digits=12, decimal_places=4, min_value=Decimal(low), max_value=high, **kwargs)


class ExitTargetSerializer(serializers.Serializer):
    at_profit_pct = _pct("0.0001", 1000, help_text="Profit % above the entry price that fills this target")
    pct_of_position = _pct("0.0001", 100, help_text="Share (%) of the position, as it was at the start, to sell")


class TrailingTakeProfitSerializer(serializers.Serializer):
    activate_at_pct = _pct("0", 1000, help_text="Arms once the profit reaches this %")
    callback_pct = _pct("0.0001", 99, help_text="Then sells all when the price falls this % from its high")


class TrailingStopSerializer(serializers.Serializer):
    distance_pct = _pct("0.0001", 99, help_text="The stop follows the high since entry this % below it")


class ExitPlanSerializer(serializers.Serializer):
    """A position's exit plan. Every part is optional; an empty body removes every exit."""

    targets = ExitTargetSerializer(many=True, required=False, max_length=10)
    trailing_take_profit = TrailingTakeProfitSerializer(required=False, allow_null=True)
    trailing_stop = TrailingStopSerializer(required=False, allow_null=True)
    breakeven_after_first_target = serializers.BooleanField(required=False, default=False)
    time_stop_minutes = StrictIntegerField(min_value=1, max_value=525600, required=False, allow_null=True)

    def validate_targets(self, targets):
        levels = [t["at_profit_pct"] for t in targets]
        if levels != sorted(set(levels)) or len(set(levels)) != len(levels):
            raise serializers.ValidationError("targets must be in ascending at_profit_pct order, each level once")
        if sum(t["pct_of_position"] for t in targets) > 100:
            raise serializers.ValidationError("the targets' pct_of_position add up to more than 100")
        return targets

    def validate(self, attrs):
        if attrs.get("breakeven_after_first_target") and not attrs.get("targets"):
            raise serializers.ValidationError({"breakeven_after_first_target": ["needs at least one target"]})
        return attrs


def exit_plan_from(data: dict) -> dict:
    """A validated ExitPlanSerializer body as stored (JSON numbers)."""

    def floats(part):
        return {k: float(v) for k, v in part.items()} if part else None

    return {
        "targets": [floats(t) for t in data.get("targets") or []],
        "trailing_take_profit": floats(data.get("trailing_take_profit")),
        "trailing_stop": floats(data.get("trailing_stop")),
        "breakeven_after_first_target": bool(data.get("breakeven_after_first_target")),
        "time_stop_minutes": data.get("time_stop_minutes"),
    }


class ExitStateSerializer(serializers.Serializer):
    initial_amount = Number()
    highest_price = Number(allow_null=True, help_text="The highest price since the plan started")
    trailing_stop_price = Number(allow_null=True, help_text="Where the trailing (or breakeven) stop is now")
    trailing_take_profit_armed = serializers.BooleanField()
    targets_filled = serializers.ListField(child=serializers.IntegerField(), help_text="Indexes of the filled targets")
    fired = serializers.ListField(child=serializers.CharField(), help_text="The exits that fired")


class PositionExitsSerializer(serializers.Serializer):
    position_id = serializers.UUIDField()
    bot_id = serializers.UUIDField(allow_null=True)
    symbol = serializers.CharField()
    is_open = serializers.BooleanField()
    amount = Number()
    entry_price = Number()
    stop_loss = Number(allow_null=True)
    take_profit = Number(allow_null=True, help_text="null when the plan takes profit itself")
    execution = serializers.CharField(help_text="engine-side: the engine sells at market when a level is crossed")
    plan = ExitPlanSerializer()
    state = ExitStateSerializer()
    updated_at = serializers.DateTimeField(allow_null=True)


class PositionExitsResponse(serializers.Serializer):
    success = serializers.BooleanField()
    exits = PositionExitsSerializer()


class BotEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=["exit", "protection", "exit_plan"])
    name = serializers.CharField(help_text="take_profit, trailing_stop, stoploss_guard, cooldown, ...")
    message = serializers.CharField()
    data = serializers.DictField()
    created_at = serializers.DateTimeField()


class BotHistoryResponse(serializers.Serializer):
    success = serializers.BooleanField()
    bot_id = serializers.UUIDField()
    events = BotEventSerializer(many=True)
    total = Count()


# --- Supertrend exits (PUT /api/positions/{id}/supertrend-exit) ------------------------------------------------------
SUPERTREND_TIMEFRAMES = ["1m", "5m", "15m", "30m", "1h", "4h", "1d"]


class SupertrendExitSerializer(serializers.Serializer):
    """A position's Supertrend trailing exit: sold at market when Supertrend(period, multiplier) on ``timeframe``
    candles flips from up to down."""

    period = StrictIntegerField(min_value=2, max_value=98, help_text="Candles of the average true range (ATR)")
    multiplier = StrictDecimalField(
        max_digits=6,
        decimal_places=3,
        min_value=Decimal("0.1"),
        max_value=Decimal("20"),
        help_text="Band width in ATRs",
    )
    timeframe = serializers.ChoiceField(
        choices=SUPERTREND_TIMEFRAMES,
        required=False,
        help_text="Candle size; default: the bot's timeframe for a bot's position, else 1h (kept on a change)",
    )


class SupertrendExitStateSerializer(serializers.Serializer):
    position_id = serializers.UUIDField()
    bot_id = serializers.UUIDField(allow_null=True)
    account_id = serializers.UUIDField(allow_null=True, help_text="The trading account the position is on")
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    is_open = serializers.BooleanField()
    period = StrictIntegerField()
    multiplier = Number()
    timeframe = serializers.ChoiceField(choices=SUPERTREND_TIMEFRAMES)
    status = serializers.ChoiceField(
        choices=["waiting", "watching", "triggered", "closed"],
        help_text="waiting: no closed candle evaluated yet; watching; triggered: the trend flipped down and the "
        "position is being sold; closed: the position is closed",
    )
    trend = serializers.ChoiceField(choices=["up", "down"], allow_null=True, help_text="On the last candle evaluated")
    line = Number(allow_null=True, help_text="The Supertrend line on the last candle evaluated")
    last_candle_at = serializers.DateTimeField(allow_null=True, help_text="Open time of the last candle evaluated")
    triggered_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    close_order_id = serializers.UUIDField(allow_null=True, help_text="The sale the flip placed")
    last_error = serializers.CharField(allow_null=True)
    execution = serializers.CharField(
        help_text="engine-side: the service sells at market, nothing rests on the exchange"
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SupertrendExitResponse(serializers.Serializer):
    success = serializers.BooleanField()
    supertrend_exit = SupertrendExitStateSerializer(allow_null=True, help_text="null: the position has none")
