import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet
from bots.listcache import invalidate_bot_list


class BotStatus(models.TextChoices):
    CREATED = "created"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class TradingMode(models.TextChoices):
    PAPER = "paper"
    LIVE = "live"


class RiskMode(models.TextChoices):
    SAFE = "safe"
    BALANCED = "balanced"
    AGGRESSIVE = "aggressive"


class Decision(models.TextChoices):
    """What the engine decided on a bot's last tick (Bot.last_decision), with a human reason beside it."""

    TRADED_BUY = "traded_buy"
    TRADED_SELL = "traded_sell"
    NO_SIGNAL = "no_signal"  # the strategy saw nothing to do on the latest candle
    POSITION_OPEN = "position_open"  # a buy signal while a position is already open (one position at a time)
    NO_POSITION_TO_SELL = "no_position_to_sell"  # a sell signal with nothing to sell
    BELOW_MIN_SIZE = "below_min_size"  # the order would be smaller than the exchange's minimum
    ALREADY_PLACED = "already_placed"  # this signal's order exists already (a repeated candle or a retried tick)
    RISK_LIMIT = "risk_limit"  # a buy signal while one of the owner's risk limits is reached (bots.risk)
    ORDERS_PLACED = "orders_placed"  # an order-managing bot (DCA, grid) placed orders this tick
    ORDERS_IN_PLACE = "orders_in_place"  # an order-managing bot's orders are as they should be
    PROTECTION = "protection"  # a buy signal while a protection blocks entries (bots.protections)
    EXIT = "exit"  # an exit of the position's exit plan sold part or all of it (bots.exits)
    MARKET_CLOSED = "market_closed"  # the bot's stock market is outside its session: the bot waits for the open


class BotQuerySet(OwnedQuerySet):
    def update(self, **kwargs):
        """Queryset updates skip save() and its signals: refresh updated_at and drop the owners' cached bot lists."""
        kwargs.setdefault("updated_at", timezone.now())
        user_ids = set(self.order_by().values_list("user_id", flat=True).distinct())
        count = super().update(**kwargs)
        for user_id in user_ids:
            invalidate_bot_list(user_id)
        return count


class Bot(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexes and the tick. Every tick writes its bot's row twice (the dispatcher's lease, then the tick's own UPDATE),
    # so no column a tick writes is indexed: PostgreSQL then updates the row in place in its page (a HOT update, the
    # table keeps free room for it: fillfactor 70, migration 0013) and touches no index; a write to an indexed column
    # would add an entry to every index of the table. Measured at 20,000 bots: 5-8x less database time per row write.
    # Hence no index on next_tick_at (the dispatcher's due query reads the table: ~20 ms at 20,000 bots, once per
    # round), and none of their own on user and status (bot_user_created starts with user, the market index with
    # status).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bots", db_index=False)
    name = models.CharField(max_length=100)
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    timeframe = models.CharField(max_length=8, default="1m")
    status = models.CharField(max_length=16, choices=BotStatus.choices, default=BotStatus.CREATED)
    trading_mode = models.CharField(max_length=8, choices=TradingMode.choices, default=TradingMode.PAPER)
    risk_mode = models.CharField(max_length=16, choices=RiskMode.choices, default=RiskMode.BALANCED)
    strategy = models.CharField(max_length=32, default="momentum")
    params = models.JSONField(default=dict, blank=True)
    initial_capital = models.DecimalField(max_digits=24, decimal_places=8)
    current_capital = models.DecimalField(max_digits=24, decimal_places=8)
    total_profit = models.DecimalField(max_digits=24, decimal_places=8, default=Decimal("0"))
    last_error = models.TextField(blank=True, default="")
    # Who paused the bot when that matters later: "kill_switch" (the user's POST /api/trading/stop, so that
    # /api/trading/start resumes it), else empty. Any other status change clears it.
    pause_origin = models.CharField(max_length=16, blank=True, default="")
    # Why the bot may not open positions right now (a risk limit of the owner's risk section), else empty (bots.risk).
    risk_block = models.CharField(max_length=255, blank=True, default="")
    failure_count = models.PositiveIntegerField(default=0)
    # The engine's last decision (a Decision code; no choices in the column, so a new code needs no migration) and why
    # (bots.engine._tick writes them with the tick's own UPDATE).
    last_decision = models.CharField(max_length=32, blank=True, default="")
    last_decision_reason = models.CharField(max_length=255, blank=True, default="")
    last_decision_at = models.DateTimeField(null=True, blank=True)
    # The last signal the strategy gave: {"side", "reason", "confidence", "price", "candle_ts", "at"}; null if none yet.
    last_signal = models.JSONField(null=True, blank=True)
    # Order-managing strategies (DCA, grid: bots.strategies.managed) keep the little state their orders cannot tell
    # (the DCA deal number; the grid's run, levels and which side rests on each level) here, written by the engine's
    # tick under the bot's row lock. Everything else is rebuilt from the bot's orders each tick. Empty for the others.
    managed_state = models.JSONField(default=dict, blank=True)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    # When the dispatcher should tick the bot next (bots.scheduling); null = due now (a bot that never ticked).
    next_tick_at = models.DateTimeField(null=True, blank=True)  # not indexed: see the note on the indexes above
    # Admin lock: a bot paused by a platform admin stays paused until an admin releases it (bots.admin_api); its owner
    # cannot resume it meanwhile, and the engine never ticks it. ``paused_by`` is the admin (kept null if the admin
    # account is deleted: the lock stays), ``pause_reason`` the reason the admin gave, shown to the owner.
    paused_by_admin = models.BooleanField(default=False)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pause_reason = models.CharField(max_length=200, blank=True, default="")
    paused_at = models.DateTimeField(null=True, blank=True)
    # A signal bot's webhook secret (bots.webhooks): SHA-256 of the token in its URL, never the token itself (shown to
    # the owner once, at creation and on rotation). Null for bots without a webhook.
    webhook_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    # Not a column: the token itself, set on the instance only when bots.services just issued it (shown once).
    webhook_token: str | None = None
    # A bot that trades an account group (mirror): each of its orders goes to every enabled account of the group
    # (mirror.services.place_group_order; the bot's size is the primary's). Null: it trades its own exchange book.
    account_group = models.ForeignKey(
        "mirror.AccountGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="bots"
    )
    # The highest capital the bot has had (bots.protections: the max-drawdown pause measures from it).
    peak_capital = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BotQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "exchange", "symbol"]),
            # A user's bots newest first (GET /api/bots) and every user's, by keyset (GET /api/admin/bots).
            models.Index(fields=["user", "-created_at", "-id"], name="bot_user_created"),
            models.Index(fields=["-created_at", "-id"], name="bot_created"),
        ]

    def __str__(self):
        return f"{self.name} ({self.exchange} {self.symbol})"

    @property
    def profit_percentage(self):
        if not self.initial_capital:
            return Decimal("0")
        return (self.total_profit / self.initial_capital) * 100


class SignalOutcome(models.TextChoices):
    TRADED = "traded"  # an order was placed on it
    SKIPPED = "skipped"  # actionable, but no order: the size came out below the market's minimum amount
    NOT_ACTIONABLE = "not_actionable"  # a buy while a position is open, or a sell with none


class StrategySignal(models.Model):
    """One strategy decision that would open (buy) or close (sell) a position, traded or not (bots.engine records it).

    One row per (bot, candle, side): a bot ticks several times on the same candle and makes the same decision each
    time; that is one decision. Rows older than SIGNAL_RETENTION_DAYS are pruned (bots.tasks.prune_signals).
    ``confidence`` is a percentage (0-100) of the strategy's own indicator strength (bots.strategies.base).
    Bot name, exchange, strategy and mode are copied so the history stays readable after the bot changes or goes.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signals")
    # No index of its own: the unique constraint below starts with bot.
    bot = models.ForeignKey(
        Bot, null=True, blank=True, on_delete=models.SET_NULL, related_name="signals", db_index=False
    )
    bot_name = models.CharField(max_length=100)
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    strategy = models.CharField(max_length=32)
    trading_mode = models.CharField(max_length=8, choices=TradingMode.choices)
    side = models.CharField(max_length=4)  # "buy" opens a long position, "sell" closes it
    entry_price = models.DecimalField(max_digits=24, decimal_places=8)
    target = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    stop_loss = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    confidence = models.DecimalField(max_digits=5, decimal_places=2)
    reason = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=SignalOutcome.choices)
    candle_ts = models.BigIntegerField()  # the candle the decision was made on (ms since the epoch)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The hot read: one user's signals, newest first, keyset-paginated on (created_at, id); the other filters
            # (strategy, side, confidence) are applied along it.
            models.Index(fields=["user", "-created_at", "-id"], name="signal_user_time"),
            models.Index(fields=["user", "symbol", "-created_at", "-id"], name="signal_user_symbol_time"),
            models.Index(fields=["created_at"], name="signal_created"),  # pruning
        ]
        constraints = [
            models.UniqueConstraint(fields=["bot", "candle_ts", "side"], name="signal_one_per_bot_candle_side"),
        ]

    def __str__(self):
        return f"{self.side} {self.symbol} ({self.strategy}, {self.outcome})"


class WebhookOutcome(models.TextChoices):
    TRADED = "traded"  # an order was placed on it
    IGNORED = "ignored"  # valid, but nothing to do (a buy with a position open, a sell with none, bot paused, ...)
    REJECTED = "rejected"  # refused: malformed, unknown action, another symbol, a replay, or the order failed


class WebhookEvent(models.Model):
    """One alert received on a signal bot's webhook URL and what became of it (GET /api/bots/{id}/webhooks), so the
    owner can see why an alert did or did not trade. ``code`` is the machine-readable reason (bots.webhooks)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_events")
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="webhook_events", db_index=False)
    received_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=16)  # "tradingview", "chartink" or "unknown"
    action = models.CharField(max_length=8, blank=True)  # buy, sell, close; empty when it could not be read
    symbol = models.CharField(max_length=32, blank=True)
    price = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    size = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    alert_key = models.CharField(max_length=64)  # SHA-256 of the alert's id, else of its body (the replay check)
    outcome = models.CharField(max_length=8, choices=WebhookOutcome.choices)
    code = models.CharField(max_length=24)
    reason = models.CharField(max_length=255, blank=True)
    order = models.ForeignKey(
        "trading.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    payload = models.JSONField(default=dict, blank=True)  # the alert as received (bounded in size)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["bot", "-received_at"], name="webhook_bot_time"),
            models.Index(fields=["bot", "alert_key", "received_at"], name="webhook_bot_key"),
        ]

    def __str__(self):
        return f"{self.source} {self.action or '?'} ({self.outcome}: {self.code})"


class TradingSwitch(models.Model):
    """The user's kill switch (bots.trading_switch): stopped after POST /api/trading/stop until POST
    /api/trading/start. The bots the stop paused carry pause_origin="kill_switch"."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trading_switch")
    stopped = models.BooleanField(default=False)
    close_positions = models.BooleanField(default=False, help_text="The last stop also closed positions at market.")
    stopped_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    def __str__(self):
        return f"{self.user_id} {'stopped' if self.stopped else 'running'}"


class ExitPlan(models.Model):
    """How one open position is exited (bots.exits): take-profit targets, trailing take profit, trailing stop, move to
    breakeven, time stop (``plan``), and where that stands (``state``: the high since entry, the trailing stop price,
    targets filled, exits fired). Made from the bot's exit parameters when the engine first sees the position; edited
    per position through PUT /api/positions/{id}/exits. Engine-side: the engine checks it on every tick."""

    position = models.OneToOneField("trading.Position", on_delete=models.CASCADE, related_name="exit_plan")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exit_plans")
    plan = models.JSONField(default=dict)
    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    def __str__(self):
        return f"exits of {self.position_id}"


class BotEventKind(models.TextChoices):
    EXIT = "exit"  # an exit of the exit plan fired (a partial or whole sale)
    PROTECTION = "protection"  # a protection blocked new entries
    EXIT_PLAN = "exit_plan"  # the owner changed a position's exit plan


class BotEvent(models.Model):
    """One line of a bot's history (GET /api/bots/{id}/history). ``key`` makes a repeated record (a retried tick, the
    same protection seen on every tick) one row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bot_events")
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=BotEventKind.choices)
    name = models.CharField(max_length=32)  # which exit or protection: "take_profit", "stoploss_guard", ...
    message = models.CharField(max_length=255)
    data = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["bot", "kind", "-created_at"], name="botevent_bot_kind_time")]
        constraints = [models.UniqueConstraint(fields=["bot", "key"], name="botevent_one_per_key")]

    def __str__(self):
        return f"{self.kind} {self.name}: {self.message}"


class SupertrendExit(models.Model):
    """A Supertrend trailing exit on one open position, any account's, a bot's or the user's own (bots.supertrend_exit):
    on each new closed candle of ``timeframe`` the service computes Supertrend(``period``, ``multiplier``) and, when the
    trend flips from up to down, sells the whole position at market (engine-side: no order rests on the exchange).
    ``last_candle_ts``/``last_trend``/``last_line`` are what it saw on the last candle it evaluated; ``triggered_at``,
    ``reason`` and ``close_order`` record the flip and the sale; ``last_error`` why the last attempt failed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    position = models.OneToOneField("trading.Position", on_delete=models.CASCADE, related_name="supertrend_exit")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="supertrend_exits")
    period = models.PositiveSmallIntegerField()
    multiplier = models.DecimalField(max_digits=6, decimal_places=3)
    timeframe = models.CharField(max_length=8)
    last_candle_ts = models.BigIntegerField(null=True, blank=True)
    last_trend = models.SmallIntegerField(null=True, blank=True)  # 1 up, -1 down
    last_line = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    close_order = models.ForeignKey("trading.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    def __str__(self):
        return f"supertrend({self.period}, {self.multiplier}) exit of {self.position_id}"
