"""Bot lifecycle rules: create, change, pause, resume, delete. Every status change publishes a bot_update event.

Enum fields (strategy, trading_mode, risk_mode) arrive checked by the input serializers (bots.serializers); the
rules here are the ones that need the database or the platform catalogue.

A new bot is "created" until the engine's first tick picks it up (within BOT_TICK_SECONDS) and makes it "active".

A bot's initial_capital is allocated from its exchange account: it may not exceed the quote currency that account has
free and that the user's other (not stopped) bots there have not been allocated (``unallocated_capital``), for paper
bots from the paper balance, for live bots from the exchange's balance. Otherwise the creation is refused
(VALIDATION_ERROR on initial_capital) rather than a bot left to trade money that is not there.
"""

import logging
import math
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.selectors import config_section
from accounts.services import LIVE_MODES
from amarktai.errors import (
    BotLockedByAdmin,
    Conflict,
    InsufficientFunds,
    PermissionDenied,
    PositionClosed,
    ProviderError,
    ValidationFailed,
)
from bots import exits
from bots.models import (
    Bot,
    BotEventKind,
    BotStatus,
    ExitPlan,
    RiskMode,
    SignalOutcome,
    StrategySignal,
    TradingMode,
    TradingSwitch,
)
from bots.payloads import bot_payload, lock_holder, signal_payload
from bots.selectors import access_bot, bot_allocations
from bots.strategies import STRATEGIES, Signal
from bots.strategies import params as strategy_params
from bots.strategies.base import Strategy
from bots.strategies.managed import MANAGED
from bots.tokens import is_webhook_strategy, new_token
from realtime import events
from trading import services as trading
from trading.exchanges import get_exchange
from trading.models import Order, OrderStatus, Position
from trading.payloads import position_payload
from trading.platforms import get_platform
from trading.selectors import access_position, position_is_paper, same_book
from wallets.selectors import has_valid_credential

MAX_CAPITAL = Decimal("1000000000")
ZERO = Decimal("0")
# Fills are booked to 1e-8 (costs, fees, average prices), so a bot's books and its account can differ by that much.
CAPITAL_DUST = Decimal("0.000001")


def publish_bot(bot: Bot) -> None:
    events.publish(
        bot.user_id, events.BOT_UPDATE, {"bot_id": str(bot.id), "status": bot.status, "data": bot_payload(bot)}
    )


def _validate_managed_params(strategy: str, params: Any, capital: Decimal) -> dict:
    """An order-managing strategy's params (DCA, grid) against its declared PARAMS, with field-level errors; its
    orders must fit the bot's capital (DCA: the base and every safety order at full size; grid: the investment)."""
    clean, errors = MANAGED[strategy]().validate(params if params is not None else {}, capital)
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", details=errors)
    return clean


def _validate_params(strategy: str, params: Any, capital: Decimal | None = None) -> dict:
    """The bot's params checked against its strategy's declarations (bots.strategies.params; DCA and grid: their own
    PARAMS and capital rules): field-level errors keyed ``params.<name>``."""
    if strategy in MANAGED:
        return _validate_managed_params(strategy, params, capital if capital is not None else MAX_CAPITAL)
    declared = cast("type[Strategy]", STRATEGIES[strategy])  # every strategy but the managed ones above
    clean, errors = strategy_params.validate(declared, params)
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first][0]}", details=errors)
    return clean


def _require_live_allowed(user: Any, exchange: str) -> None:
    if user.system_mode not in LIVE_MODES:
        raise PermissionDenied("Switch the system mode to live trading (2FA required) before creating a live bot")
    if not has_valid_credential(user, exchange):
        raise PermissionDenied(f"Store and test valid API keys for {exchange} before creating a live bot")


def unallocated_capital(user: Any, exchange: str, trading_mode: str, quote: str) -> Decimal:
    """How much ``quote`` on the user's ``exchange`` account (paper or live, as ``trading_mode`` says) a new bot may
    still be given: the account's free balance minus what the user's other bots there (all but stopped ones) have been
    allocated and not yet spent (current capital less the cost of their open position). Free already excludes funds in
    open orders and in transfers pending out. Live: one balance request to the exchange (raises if it cannot be
    read)."""
    balance = get_exchange(user, exchange, trading_mode).fetch_balance()
    free = Decimal(str((balance.get(quote) or {}).get("free") or 0))
    claim = bot_allocations(user, trading_mode).get(exchange, {}).get(quote)
    return free - (claim["allocated"] if claim else ZERO)


KILL_SWITCH = "kill_switch"  # Bot.pause_origin of the bots the user's kill switch paused (bots.trading_switch)


def trading_stopped(user: Any) -> bool:
    """Whether the user's kill switch is on (POST /api/trading/stop until POST /api/trading/start)."""
    return TradingSwitch.objects.owned_by(user).filter(stopped=True).exists()


@transaction.atomic
def create_bot(
    user: Any,
    *,
    name: str,
    exchange: str,
    trading_mode: str = "paper",
    risk_mode: str | None = None,
    initial_capital: Decimal | str,
    strategy: str = "momentum",
    symbol: str | None = None,
    timeframe: str = "1m",
    params: dict | None = None,
) -> Bot:
    platform = get_platform(exchange)
    if platform is None or not platform.enabled:
        raise ValidationFailed(f"Unknown exchange {exchange!r}", details={"exchange": ["unknown exchange"]})
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name is required", details={"name": ["required"]})
    capital = Decimal(str(initial_capital))
    if not capital.is_finite() or capital <= 0 or capital > MAX_CAPITAL:
        raise ValidationFailed("initial_capital must be a positive amount", details={"initial_capital": ["invalid"]})
    symbol = (symbol or platform.default_symbol).upper()
    if symbol not in platform.symbols:
        raise ValidationFailed(
            f"{platform.name} bots can trade: {', '.join(platform.symbols)}", details={"symbol": ["unsupported"]}
        )
    clean_params = _validate_params(strategy, params, capital)
    risk_mode = risk_mode or config_section(user.pk, "risk").get("default_risk_mode") or RiskMode.BALANCED
    if trading_mode == TradingMode.LIVE:
        _require_live_allowed(user, platform.id)
    # Lock the user's row so two concurrent creations cannot both pass the per-platform limit.
    type(user).objects.select_for_update().filter(pk=user.pk).first()
    if Bot.objects.filter(user=user, exchange=platform.id).count() >= platform.bot_limit:
        raise ValidationFailed(
            f"{platform.name} allows at most {platform.bot_limit} bots per user",
            details={"exchange": ["bot limit reached"]},
        )
    quote = symbol.split("/")[1]
    unallocated = unallocated_capital(user, platform.id, trading_mode, quote)
    if capital > unallocated + CAPITAL_DUST:
        shown = max(unallocated, ZERO).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        raise ValidationFailed(
            f"initial_capital is more than the {shown} {quote} on {platform.name} not yet allocated to your other bots",
            details={"initial_capital": [f"at most {shown} {quote} available"]},
        )
    stopped = trading_stopped(user)  # the kill switch is on: the new bot waits, paused, for POST /api/trading/start
    bot = Bot.objects.create(
        user=user,
        status=BotStatus.PAUSED if stopped else BotStatus.CREATED,
        pause_origin=KILL_SWITCH if stopped else "",
        name=name[:100],
        exchange=platform.id,
        symbol=symbol,
        timeframe=timeframe,
        trading_mode=trading_mode,
        risk_mode=risk_mode,
        strategy=strategy,
        params=clean_params,
        initial_capital=capital,
        current_capital=capital,
    )
    if is_webhook_strategy(strategy):  # a signal bot: its secret URL, shown once (the view reads bot.webhook_token)
        bot.webhook_token, bot.webhook_token_hash = new_token()
        bot.save(update_fields=["webhook_token_hash"])
    publish_bot(bot)
    return bot


@transaction.atomic
def update_bot(user: Any, bot_id: Any, changes: dict) -> Bot:
    bot = access_bot(user, bot_id, lock=True)
    fields = []
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise ValidationFailed("name is required", details={"name": ["required"]})
        bot.name = name[:100]
        fields.append("name")
    if "risk_mode" in changes:
        bot.risk_mode = changes["risk_mode"]
        fields.append("risk_mode")
    if "strategy" in changes:
        if changes["strategy"] != bot.strategy and (bot.strategy in MANAGED or changes["strategy"] in MANAGED):
            if Order.objects.filter(bot=bot, status=OrderStatus.OPEN).exists():
                raise Conflict("Pause the bot and let its open orders finish (or cancel them) before changing strategy")
            bot.managed_state = {}  # a DCA deal or a grid belongs to the strategy that started it
            fields.append("managed_state")
        bot.strategy = changes["strategy"]
        fields.append("strategy")
        if "params" not in changes:
            bot.params = _validate_params(bot.strategy, {}, bot.current_capital) if bot.strategy in MANAGED else {}
            fields.append("params")
        if is_webhook_strategy(bot.strategy) and not bot.webhook_token_hash:
            bot.webhook_token, bot.webhook_token_hash = new_token()  # shown once in the answer
            fields.append("webhook_token_hash")
        elif not is_webhook_strategy(bot.strategy) and bot.webhook_token_hash:
            bot.webhook_token_hash = None  # no longer a signal bot: its URL stops working
            fields.append("webhook_token_hash")
    if "params" in changes:
        bot.params = _validate_params(bot.strategy, changes["params"], bot.current_capital)
        fields.append("params")
    if fields:
        bot.save(update_fields=[*set(fields), "updated_at"])
        publish_bot(bot)
    return bot


def locked_message(bot: Bot) -> str:
    """What the owner is told about an admin lock: who (a display name, never an email) and why."""
    text = f"{bot.name} was paused by {lock_holder(bot)}"
    if bot.pause_reason:
        text += f", reason: {bot.pause_reason}"
    return text + ". Only an administrator can release it; contact support to have it resumed."


def require_not_admin_locked(bot: Bot) -> None:
    if bot.paused_by_admin:
        raise BotLockedByAdmin(
            locked_message(bot),
            details={"paused_by": [lock_holder(bot)], "pause_reason": [bot.pause_reason or "none given"]},
        )


@transaction.atomic
def set_status(bot: Bot, status: str, reason: str = "", origin: str = "") -> Bot:
    """Change a (locked) bot's status and tell its owner. ``origin`` marks a pause made by the kill switch
    (bots.trading_switch); every other change clears the mark. An admin-locked bot never becomes active here (an admin
    releases it first: bots.admin_api.unlock_bot)."""
    if status == BotStatus.ACTIVE:
        require_not_admin_locked(bot)
    bot.status = status
    bot.pause_origin = origin if status == BotStatus.PAUSED else ""
    update = ["status", "pause_origin", "updated_at"]
    if status == BotStatus.ACTIVE:
        # A resumed bot starts afresh: no failures, no back-off, due at the dispatcher's next round.
        bot.failure_count = 0
        bot.last_error = ""
        bot.next_tick_at = None
        update += ["failure_count", "last_error", "next_tick_at"]
    bot.save(update_fields=update)
    publish_bot(bot)
    if reason:
        events.publish(bot.user_id, events.ALERT, {"level": "warning", "message": reason, "bot_id": str(bot.id)})
    return bot


def pause_bot(user: Any, bot_id: Any, reason: str = "") -> Bot:
    with transaction.atomic():
        bot = access_bot(user, bot_id, lock=True)
        if bot.status == BotStatus.PAUSED:
            if bot.pause_origin:  # paused by the kill switch, now by the user: starting trading must not resume it
                bot.pause_origin = ""
                bot.save(update_fields=["pause_origin", "updated_at"])
            return bot
        return set_status(bot, BotStatus.PAUSED, reason)


def resume_bot(user: Any, bot_id: Any) -> Bot:
    with transaction.atomic():
        bot = access_bot(user, bot_id, lock=True)
        require_not_admin_locked(bot)
        if bot.status == BotStatus.ACTIVE:
            return bot
        if trading_stopped(user):
            raise Conflict("Your trading is stopped (kill switch): start trading again to resume your bots")
        if bot.trading_mode == TradingMode.LIVE:
            _require_live_allowed(user, bot.exchange)
        return set_status(bot, BotStatus.ACTIVE)


def delete_bot(user: Any, bot_id: Any) -> Any:
    """Delete a bot. An open position is sold at market first (``_sell_position``), so no position is ever left
    without its bot. If the sale cannot be placed the bot stays and the error says why. If it was placed but has not
    filled yet (a live exchange can take a moment), the bot is kept, stopped (it places nothing more), and the answer is
    a 409 asking to delete again once the sale has filled: deleting it now would leave the position and the late fill
    without the bot whose P&L they belong to."""
    pending = False
    with transaction.atomic():
        bot = access_bot(user, bot_id, lock=True)
        position = Position.objects.select_for_update().filter(bot=bot, is_open=True).first()
        if position is not None:
            try:
                _sell_position(user, position, bot, reason="bot deleted")
            except PositionClosed:
                pass
            except Conflict as exc:  # a sale of this position is already working
                pending = True
                message = exc.message
            except (ProviderError, ValidationFailed, InsufficientFunds) as exc:
                raise Conflict(
                    f"The bot's open position could not be closed ({exc.message}); the bot was not deleted. "
                    "Pause it and try again later."
                ) from exc
            position.refresh_from_db()
            if position.is_open and not pending:
                pending = True
                message = "The sale of the bot's open position was placed and has not filled yet"
        if pending:
            if bot.status != BotStatus.STOPPED:
                set_status(bot, BotStatus.STOPPED)
        else:
            user_id, bot_pk = bot.user_id, bot.pk
            bot.delete()
    if pending:
        raise Conflict(
            f"{message}: the bot was stopped, not deleted, so the position keeps its bot. "
            "Delete it again once the sale has filled."
        )
    events.publish(
        user_id,
        events.BOT_UPDATE,
        {"bot_id": str(bot_pk), "status": "deleted", "data": {"id": str(bot_pk), "deleted": True}},
    )
    return bot_pk


# --- manual exit ("force exit") -------------------------------------------------------------------------------
# One path for every close: POST /api/positions/{id}/close, POST /api/bots/{id}/exit, deleting a bot, the assistant's
# and the commands' "close position", and the kill switch. Locks are taken in the engine's order (bot, then position),
# so a close and a tick of the same bot run one after the other: the tick then sees no position, the close then sees
# the position the tick left.

MAX_CLOSE_ATTEMPTS = 50


def close_order_id(position: Position) -> str:
    """The client order id of the next sale closing ``position``: deterministic per (position, attempt). Attempts whose
    order was canceled or rejected are skipped; an attempt whose order is working (or filled) raises Conflict, so one
    position is never sold twice, whichever path asked."""
    for attempt in range(MAX_CLOSE_ATTEMPTS):
        cid = trading.client_order_id("close", position.pk, attempt)
        order = Order.objects.filter(client_order_id=cid).only("status").first()
        if order is None:
            return cid
        if order.status in (OrderStatus.CANCELED, OrderStatus.REJECTED):
            continue
        raise Conflict("A sale closing this position is already working; wait for it to fill")
    raise Conflict("This position could not be closed after many attempts; contact support")


def _sell_position(user: Any, position: Position, bot: Bot | None, reason: str) -> Order:
    """Sell the whole of a locked, open position at market. Must run inside a transaction holding the bot's lock (if it
    has one) and the position's."""
    if not position.is_open:
        raise PositionClosed("This position is already closed")
    managed = bot if bot is not None and bot.strategy in MANAGED else None
    if managed is not None:  # a DCA / grid bot's resting orders hold its coins and cash: they go first
        own = get_exchange(user, managed.exchange, managed.trading_mode)
        for resting in Order.objects.filter(bot=managed, status=OrderStatus.OPEN, parent__isnull=True):
            trading.cancel_order(resting, own)
    working = Order.objects.filter(
        same_book(position), user_id=position.user_id, exchange=position.exchange, symbol=position.symbol
    ).filter(side="sell", status=OrderStatus.OPEN, parent__isnull=True)
    if working.exists():
        raise Conflict("A sell order for this position is still open; cancel it or wait for it to fill")
    if bot is not None:
        mode = bot.trading_mode
    else:
        paper = position_is_paper(position)
        mode = (
            ("paper" if user.system_mode not in LIVE_MODES else "live")
            if paper is None
            else ("paper" if paper else "live")
        )
    exchange = get_exchange(user, position.exchange, mode, credential=position.account)  # on the account it is on
    order = trading.place_order(
        user,
        exchange,
        symbol=position.symbol,
        side="sell",
        type="market",
        amount=position.amount,
        bot=bot,
        cid=close_order_id(position),
        reason=reason,
        is_paper=mode == TradingMode.PAPER,
    )
    position.refresh_from_db()
    events.publish(user.pk, events.POSITION_UPDATE, {"position": position_payload(position), "reason": reason})
    if managed is not None and managed.status != BotStatus.STOPPED:
        set_status(managed, BotStatus.STOPPED)  # its deal or grid cannot go on without the coins it just sold
    return order


def close_position(bot: Bot, reason: str = "closed") -> Order | None:
    """Sell a bot's open position at market, if it has one (the kill switch's "close positions", scripts). Takes the
    bot's and then the position's row lock itself (the engine's order), in the caller's transaction if there is one.
    Returns the closing order, None when the bot holds no position; raises Conflict when a sale of it is working."""
    with transaction.atomic():
        locked = Bot.objects.select_for_update().filter(pk=bot.pk).first()
        if locked is None:
            return None
        position = Position.objects.select_for_update().filter(bot=locked, is_open=True).first()
        if position is None:
            return None
        return _sell_position(locked.user, position, locked, reason)


def close_position_by_id(user: Any, position_id: Any, reason: str = "manual exit") -> tuple[Order, Position]:
    """Sell one of the user's open positions at market, paper or live as it was opened. A bot's position books the
    bot's P&L through the fill like a strategy exit. Raises PositionClosed (409) when it is no longer open, Conflict
    when a sale of it is already working; NotFound for a missing or another user's position."""
    position = access_position(user, position_id)
    with transaction.atomic():
        bot = None
        if position.bot_id:
            bot = Bot.objects.owned_by(user).select_for_update().filter(pk=position.bot_id).first()
        position = access_position(user, position.pk, lock=True)
        order = _sell_position(user, position, bot, reason)
    position.refresh_from_db()
    return order, position


def exit_bot(user: Any, bot_id: Any, reason: str = "manual exit") -> tuple[Order, Position]:
    """Close a bot's open position at market ("force exit"). The bot keeps its status: an active bot may open a new
    position on its next buy signal (pause it first to stop that). Raises PositionClosed (409) when it has none."""
    with transaction.atomic():
        bot = access_bot(user, bot_id, lock=True)
        position = Position.objects.select_for_update().filter(bot=bot, is_open=True).first()
        if position is None:
            raise PositionClosed(f"{bot.name} has no open position")
        order = _sell_position(user, position, bot, reason)
    position.refresh_from_db()
    return order, position


def max_failures() -> int:
    return int(settings.BOT_MAX_FAILURES)


# --- strategy signals -----------------------------------------------------------------------------------------------
signal_logger = logging.getLogger("bots.signals")
PRUNE_BATCH = 5000


def _decimal(value: float | None) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return Decimal(str(round(float(value), 8)))


def record_signal(bot: Bot, signal: Signal, *, position_open: bool, traded: bool) -> StrategySignal | None:
    """Store one strategy decision of ``bot`` (called by the engine inside the tick's transaction, the bot row locked)
    and publish it as a ``signal`` event on commit. Returns the new row, or None when this decision (same bot, candle
    and side: a later tick on the same candle) is already recorded.

    What counts: every Signal a strategy returns is a decision to open (buy) or close (sell) a position. Its outcome is
    ``traded`` (an order was placed), ``skipped`` (actionable, but the size was below the market's minimum amount) or
    ``not_actionable`` (a buy while a position is open, a sell with none: nothing to open or close)."""
    if StrategySignal.objects.filter(bot=bot, candle_ts=signal.candle_ts, side=signal.side).exists():
        return None
    entry = _decimal(signal.entry)
    if entry is None:
        signal_logger.warning("bot %s: %s signal without a finite price not recorded", bot.pk, signal.side)
        return None
    actionable = (signal.side == "buy") != position_open
    if traded:
        outcome = SignalOutcome.TRADED
    elif actionable:
        outcome = SignalOutcome.SKIPPED
    else:
        outcome = SignalOutcome.NOT_ACTIONABLE
    confidence = signal.confidence if math.isfinite(signal.confidence) else 0.0
    row = StrategySignal.objects.create(
        user_id=bot.user_id,
        bot=bot,
        bot_name=bot.name,
        exchange=bot.exchange,
        symbol=bot.symbol,
        strategy=bot.strategy,
        trading_mode=bot.trading_mode,
        side=signal.side,
        entry_price=entry,
        target=_decimal(signal.target),
        stop_loss=_decimal(signal.stop_loss),
        confidence=Decimal(str(round(min(max(confidence, 0.0), 1.0) * 100, 2))),
        reason=(signal.reason or "")[:255],
        outcome=outcome,
        candle_ts=int(signal.candle_ts),
    )
    events.publish(bot.user_id, events.SIGNAL, signal_payload(row))
    return row


def prune_signals(now: datetime | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete the strategy signals older than SIGNAL_RETENTION_DAYS (0: keep them all), in batches of ``batch`` rows
    (each its own short statement, along the created_at index). Returns how many were deleted."""
    days = settings.SIGNAL_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        oldest = StrategySignal.objects.filter(created_at__lt=cutoff).order_by("created_at").values("pk")[:batch]
        count, _ = StrategySignal.objects.filter(pk__in=oldest).delete()
        deleted += count
        if count < batch:
            return deleted


def set_position_limits(
    user: Any, bot_id: Any, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None
) -> Position:
    """Change the stop loss and/or take profit (prices) of a bot's open position. The engine sells at market on the
    first candle whose low reaches the stop loss or whose high reaches the take profit. New positions get theirs from
    the bot's risk mode again. Raises PositionClosed when the bot has no open position."""
    if stop_loss is None and take_profit is None:
        raise ValidationFailed("Give a stop loss or a take profit")
    for name, value in (("stop_loss", stop_loss), ("take_profit", take_profit)):
        if value is not None and (not value.is_finite() or value <= 0):
            raise ValidationFailed(f"The {name.replace('_', ' ')} must be a positive price", details={name: ["> 0"]})
    with transaction.atomic():
        bot = access_bot(user, bot_id, lock=True)
        position = Position.objects.select_for_update().filter(bot=bot, is_open=True).first()
        if position is None:
            raise PositionClosed(f"{bot.name} has no open position")
        stop = stop_loss if stop_loss is not None else position.stop_loss
        target = take_profit if take_profit is not None else position.take_profit
        if stop is not None and target is not None and stop >= target:
            raise ValidationFailed(
                f"The stop loss ({stop.normalize():f}) must be below the take profit ({target.normalize():f})"
            )
        fields = []
        if stop_loss is not None:
            position.stop_loss = stop_loss.quantize(Decimal("0.00000001"))
            fields.append("stop_loss")
        if take_profit is not None:
            position.take_profit = take_profit.quantize(Decimal("0.00000001"))
            fields.append("take_profit")
        position.save(update_fields=fields)
        events.publish(user.pk, events.POSITION_UPDATE, {"position": position_payload(position), "reason": "limits"})
    return position


# --- exit plans (bots.exits) and the bot's history -------------------------------------------------------------------
def set_exits(user: Any, position_id: Any, plan: dict) -> tuple[Position, ExitPlan]:
    """Replace the exit plan of one of the user's open bot positions (PUT /api/positions/{id}/exits; ``plan`` arrives
    checked by ExitPlanSerializer). The live state (the high since entry, targets filled) is kept; the engine applies
    the new plan on the bot's next tick. NotFound for another user's position, PositionClosed when it is closed."""
    position = access_position(user, position_id)
    if position.bot_id is None:
        raise Conflict("Exit plans run on bot positions; this position has no bot (close it with a manual exit)")
    with transaction.atomic():
        bot = Bot.objects.owned_by(user).select_for_update().filter(pk=position.bot_id).first()
        position = access_position(user, position.pk, lock=True)
        if not position.is_open:
            raise PositionClosed("This position is already closed")
        exit_plan = ExitPlan.objects.owned_by(user).filter(position=position).first()
        if exit_plan is None:
            exit_plan = ExitPlan(
                position=position, user=user, state=exits.new_state(position.amount, position.entry_price)
            )
        exit_plan.plan = {**exits.empty_plan(), **plan}
        # The trailing stop shown at once (the engine moves it from here on every tick).
        exit_plan.state, _ = exits.evaluate(
            exit_plan.plan,
            exit_plan.state,
            entry=position.entry_price,
            open_amount=Decimal("0"),
            price=Decimal(str(exit_plan.state.get("highest_price") or position.entry_price)),
            minutes_open=0,
        )
        exit_plan.save()
        if bot is not None:
            exits.record_event(
                bot,
                BotEventKind.EXIT_PLAN,
                "exit_plan",
                f"Exit plan of the {position.symbol} position changed",
                key=f"plan:{position.pk}:{timezone.now().timestamp()}",
                data={"position_id": str(position.pk), "plan": exit_plan.plan},
            )
        events.publish(user.pk, events.POSITION_UPDATE, {"position": position_payload(position), "reason": "exits"})
    return position, exit_plan
