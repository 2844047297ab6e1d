"""The bot engine: one tick = fetch candles (shared by every bot on the same exchange/symbol/timeframe; a broker's live
bots get theirs through their owner's credential, brokers serve prices only to a logged-in account), ask the strategy,
place at most one order through the exchange adapter.

Exactly-once: the bot row is locked (SELECT ... FOR UPDATE) for the whole decision, and the order's client id is derived
from (bot, signal candle, side), unique in the database: a retried or duplicated tick finds the order and does nothing.
Failures are data: a failed tick writes last_error and failure_count; the dispatcher backs off exponentially; after
BOT_MAX_FAILURES in a row the bot is paused and an alert is published. One bot never stops the others.

The batched group tick (tick_group). A group is the bots of one market (exchange, symbol, timeframe) that one dispatcher
round sends together. They share their candles (one fetch per source), and bots with the same strategy, params, risk
mode and position get the same signal, so each distinct decision is computed once per group (Signals). The group's
bots, their open positions, their exit plans and which owners have resting paper orders are read in a constant number
of queries, without locks. A bot whose tick can do nothing but record "no signal" (an active paper bot, flat or holding
a position without an exit plan, no resting paper order to match, not an order-managing strategy, and its strategy
returned no signal) is "quiet": all quiet bots of the group are written by one UPDATE (last_tick_at, next_tick_at, the
last_decision fields, risk_block), guarded so that it never overwrites a bot paused meanwhile or ticked by someone else
since the group started. Every other bot (a signal to act on or record, an exit plan to run, a resting order to match,
a new, live or DCA/grid bot) takes the per-bot path of tick_bot, except on a stock market outside its session: there
the per-bot path looks at the market's clock before anything else and only records "market closed", so every active
paper bot of the group whose owner has no resting paper order there is written by one UPDATE as well (_write_waiting).
The per-bot path of tick_bot: its row lock (SELECT ... FOR UPDATE) held for the whole decision, everything re-read
under the lock, the order placed with its deterministic client order id. Quiet and waiting bots place no order, so
exactly-once is the per-bot path's, unchanged.
"""

import json
import logging
import math
import time
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from accounts.selectors import config_section_many
from amarktai.errors import AmarktaiError, ProviderError
from amarktai.utils import iso
from bots import exits, managed, protections, risk, scheduling, sizing
from bots.listcache import invalidate_bot_lists
from bots.managed_view import is_managed
from bots.models import Bot, BotEventKind, BotStatus, Decision, ExitPlan, TradingMode
from bots.services import max_failures, record_signal, set_status
from bots.strategies import get_strategy, ticks
from mirror import selectors as mirror_selectors
from mirror import services as mirror_services
from realtime.metrics import BOT_TICK_SECONDS, BOT_TICKS
from trading import marketcache, sessions, system
from trading import services as trading
from trading.exchanges import get_exchange, market_data, paper_resting_order_users, source_for
from trading.models import Order, Position
from trading.platforms import get_platform

logger = logging.getLogger(__name__)
STEP = Decimal("0.00000001")
CANDLES = 100
NO_SIGNAL_REASON = "The {strategy} strategy saw no entry or exit on the latest candle"


def streamed_candles(exchange, symbol, timeframe, source):
    """The market's candles from the market-data service's cache (trading.marketcache) when it has them from
    ``source`` and fresher than MARKET_DATA_STALE_SECONDS; None when the caller should fetch them itself (the service is
    off, or a paper source it is not streaming fresh). A live source with the service on never falls back: missing or
    stale streamed candles raise StaleMarketData, and the tick fails and says why."""
    if not settings.MARKET_DATA_SERVICE:
        return None
    limit = marketcache.stale_seconds()
    entry = marketcache.candles_entry(exchange, symbol, timeframe)
    ours = entry is not None and entry.get("source") == source and bool(entry["rows"])
    age = time.time() - float(entry["at"]) if ours else None
    if ours and age <= limit:
        return [[float(v) for v in row] for row in entry["rows"][-CANDLES:]]
    if source != "live":
        return None
    if age is None:
        why = "the market-data service has not streamed them yet"
    else:
        why = f"the latest are {age:.0f} s old, over the {limit:g} s limit (MARKET_DATA_STALE_SECONDS)"
    raise marketcache.StaleMarketData(
        f"No live decision on stale market data: {exchange} {symbol} {timeframe} candles: {why}; "
        "the tick is retried once the stream delivers"
    )


def candles_for(exchange, symbol, timeframe, source):
    """Candles of one market from one source ("simulated" or "live"): the market-data service's streamed ones when
    fresh (streamed_candles), else fetched and cached for a few seconds so every bot and worker on it shares one fetch.
    A failure raises: nothing else is ever substituted."""
    streamed = streamed_candles(exchange, symbol, timeframe, source)
    if streamed is not None:
        return streamed
    key = f"candles:{source}:{exchange}:{symbol}:{timeframe}:{int(time.time() // 5)}"
    candles = cache.get(key)
    if candles is None:
        raw = market_data(exchange, source).fetch_ohlcv(symbol, timeframe, CANDLES)
        candles = [[float(v) for v in row] for row in raw]
        cache.set(key, candles, 10)
    return candles


def needs_account_for_prices(exchange):
    """A broker (a platform of kind "stock") serves prices and candles only to a logged-in account, so its live bots
    cannot share the keyless public feed: each decides on the candles its owner's own credential gets."""
    platform = get_platform(exchange)
    return platform is not None and platform.kind != "crypto"


def owner_candles(bot_id, exchange, symbol, timeframe):
    """Live candles of a broker's market through the bot owner's stored credential, cached per owner for a few
    seconds (every bot of one owner on that market shares one fetch). A failure raises, as candles_for."""
    bot = Bot.objects.select_related("user").get(pk=bot_id)
    key = f"candles:live:{exchange}:{symbol}:{timeframe}:u{bot.user_id}:{int(time.time() // 5)}"
    candles = cache.get(key)
    if candles is None:
        raw = get_exchange(bot.user, exchange, "live").fetch_ohlcv(symbol, timeframe, CANDLES)
        candles = [[float(v) for v in row] for row in raw]
        cache.set(key, candles, 10)
    return candles


def _bot_position(bot):
    """The bot's open position. A bot trading an account group holds one per account: its primary account's decides
    (the followers' orders follow from it by their multipliers)."""
    rows = Position.objects.filter(bot=bot, is_open=True)
    if bot.account_group_id is not None:
        primary = mirror_selectors.primary_account_id(bot.account_group_id)
        return rows.filter(account_id=primary).first() or rows.first()
    return rows.first()


def _position_view(position):
    if position is None:
        return None
    return {
        "entry_price": float(position.entry_price),
        "amount": float(position.amount),
        "stop_loss": float(position.stop_loss) if position.stop_loss is not None else None,
        "take_profit": float(position.take_profit) if position.take_profit is not None else None,
    }


def _finite(value):
    number = float(value) if value is not None else math.nan
    return number if math.isfinite(number) else None  # JSON (and PostgreSQL's jsonb) has no NaN or Infinity


def _signal_view(signal, now):
    """Bot.last_signal: the strategy's last signal, JSON-safe."""
    confidence = _finite(signal.confidence)
    return {
        "side": signal.side,
        "reason": str(signal.reason)[:255],
        "confidence": round(confidence, 4) if confidence is not None else None,
        "price": _finite(signal.entry),
        "candle_ts": int(signal.candle_ts),
        "at": iso(now),
    }


def _order_amount(bot, price):
    """Position size (bots.sizing.order_amount) from the bot's capital, risk mode and params, capped by the owner's
    max position % (bots.risk)."""
    return sizing.order_amount(
        bot.current_capital, price, bot.risk_mode, bot.params, risk.max_position_fraction(bot.user_id)
    )


def _params_key(params):
    return json.dumps(params or {}, sort_keys=True, default=str)


class Signals:
    """The strategy decisions of one group on its candles: each distinct (strategy, params, risk mode, position view)
    is decided once, however many bots share it (a flat bot's view is None, so every flat bot with the same strategy,
    params and risk mode shares one decision). Strategies are pure functions of these inputs (bots.strategies.base)."""

    def __init__(self, candles):
        self.candles = candles
        self._strategies = {}
        self._decided = {}

    def decide(self, bot, view):
        key = (
            bot.strategy,
            _params_key(bot.params),
            bot.risk_mode,
            None if view is None else tuple(sorted(view.items())),
        )
        if key not in self._decided:
            strategy = self._strategies.get(bot.strategy)
            if strategy is None:
                strategy = self._strategies[bot.strategy] = get_strategy(bot.strategy)
            self._decided[key] = strategy.decide(self.candles, view, bot.params, bot.risk_mode)
        return self._decided[key]

    @property
    def computed(self):
        """How many decisions were computed (the distinct keys seen)."""
        return len(self._decided)


def tick_bot(bot_id, candles, source=None, signals=None):
    """One decision for one bot on ``candles`` from ``source`` (None: the source the bot's mode trades on), its row
    locked for the whole decision. ``signals``: the group's shared decisions (Signals over the same candles). Returns
    "ok", "traded", "skipped" or "error"."""
    started = time.perf_counter()
    if system.trading_halted():  # an admin stopped the system: start no tick (one already running finishes)
        BOT_TICKS.labels("skipped").inc()
        return "skipped"
    try:
        outcome = _tick(bot_id, candles, source, signals)
    except Exception as exc:  # noqa: BLE001 - a bot's failure is recorded on the bot, never raised to the worker
        try:
            _record_failure(bot_id, exc)
        except Exception:
            logger.exception("could not record the failure of bot %s", bot_id)
        outcome = "error"
    BOT_TICKS.labels("error" if outcome == "error" else "ok" if outcome != "skipped" else "skipped").inc()
    BOT_TICK_SECONDS.observe(time.perf_counter() - started)
    return outcome


def _tick(bot_id, candles, source, signals=None):
    signals = signals if signals is not None else Signals(candles)
    with transaction.atomic():
        bot = Bot.objects.select_for_update().select_related("user").filter(pk=bot_id).first()
        if bot is None or bot.status not in (BotStatus.ACTIVE, BotStatus.CREATED) or bot.paused_by_admin:
            return "skipped"  # an admin-locked bot never trades, whatever its status says
        if not ticks(bot.strategy):
            return "skipped"  # a signal bot trades on its webhook's alerts only (bots.webhooks)
        if source is not None and source != source_for(bot.trading_mode):
            # A live bot decides only on its exchange's real data; never on candles from another source.
            raise ProviderError(
                f"{bot.trading_mode} bots trade on {source_for(bot.trading_mode)} market data, not {source}"
            )
        if bot.status == BotStatus.CREATED:
            set_status(bot, BotStatus.ACTIVE)
        exchange = get_exchange(bot.user, bot.exchange, bot.trading_mode)
        exchange.match_open_orders(bot.symbol)
        clock = exchange.market_clock(bot.symbol)
        if not clock["is_open"]:  # a stock market outside its session (trading.sessions): decide nothing, wait
            now = timezone.now()
            opens = f"; it opens at {iso(clock['next_open'])}" if clock.get("next_open") else ""
            Bot.objects.filter(pk=bot.pk).update(
                last_tick_at=now,
                failure_count=0,
                last_error="",
                next_tick_at=scheduling.next_tick_at(now, 0),
                last_decision=Decision.MARKET_CLOSED,
                last_decision_reason=f"{bot.symbol}'s market is closed ({clock.get('session')}){opens}"[:255],
                last_decision_at=now,
            )
            return "ok"
        if is_managed(bot.strategy):  # DCA / grid: reconcile the orders that should exist (bots.managed)
            decision, why, traded = managed.tick(bot, exchange)
            now = timezone.now()
            Bot.objects.filter(pk=bot.pk).update(
                last_tick_at=now,
                failure_count=0,
                last_error="",
                next_tick_at=scheduling.next_tick_at(now, 0),
                last_decision=decision,
                last_decision_reason=why[:255],
                last_decision_at=now,
            )
            return "traded" if traded else "ok"
        position = _bot_position(bot)
        # The position's exit plan (bots.exits) first, from the latest price; an exit is this tick's one order.
        exited, plan, sold = exits.run_exits(bot, position, exchange) if position is not None else ("", None, False)
        if sold:
            position = _bot_position(bot)
        view = _position_view(position)
        if view is not None and exits.manages_take_profit(plan):
            view["take_profit"] = None  # the plan's targets / trailing take profit replace the single take profit
        signal = None if exited else signals.decide(bot, view)
        traded = sold
        # The owner's risk limits (bots.risk): a flat bot opens nothing while one is reached; exits always run.
        blocked = risk.entry_block(bot) if position is None else bot.risk_block
        protected = ""  # bots.protections: asked only when a flat bot would buy
        if not blocked and position is None and signal is not None and signal.side == "buy":
            protected = protections.entry_block(bot)
        decision, why = Decision.NO_SIGNAL, NO_SIGNAL_REASON.format(strategy=bot.strategy)
        if exited:
            decision, why = Decision.EXIT, exited
        elif signal is not None and signal.side == "buy" and position is not None:
            decision, why = Decision.POSITION_OPEN, f"Buy signal ignored: a position of {position.amount} is open"
        elif signal is not None and signal.side != "buy" and position is None:
            decision, why = Decision.NO_POSITION_TO_SELL, "Sell signal ignored: no open position to sell"
        elif signal is not None and signal.side == "buy" and blocked:
            decision, why = Decision.RISK_LIMIT, f"Buy signal ignored: {blocked}"
        elif signal is not None and signal.side == "buy" and protected:
            decision, why = Decision.PROTECTION, f"Buy signal ignored: {protected}"
        elif signal is not None:
            cid = trading.client_order_id(bot.pk, signal.candle_ts, signal.side)
            decision, why = Decision.ALREADY_PLACED, f"The {signal.side} order for this candle was already placed"
            placed = Order.objects.filter(client_order_id=cid).exists() or (
                bot.account_group_id is not None and mirror_selectors.group_order_placed(bot.user, cid)
            )
            if not placed:  # a retried tick places nothing twice
                # Size from the price the order will meet (the ask), not the candle close.
                amount = (
                    position.amount
                    if signal.side == "sell"
                    else _order_amount(bot, Decimal(str(exchange.fetch_ticker(bot.symbol)["ask"])))
                )
                market = exchange.load_markets()[bot.symbol]
                decision, why = (
                    Decision.BELOW_MIN_SIZE,
                    f"Order size {amount} is below the exchange minimum of {market['min_amount']}",
                )
                if (signal.side == "sell" or amount >= market["min_amount"]) and bot.account_group_id is not None:
                    # The bot trades a group: the order goes to every enabled account (each its own child order).
                    mirror_services.place_group_order(
                        bot.user,
                        bot.account_group_id,
                        symbol=bot.symbol,
                        side=signal.side,
                        type="market",
                        amount=amount,
                        client_order_id=cid,
                        bot=bot,
                        reason=signal.reason,
                    )
                elif signal.side == "sell" or amount >= market["min_amount"]:
                    trading.place_order(
                        bot.user,
                        exchange,
                        symbol=bot.symbol,
                        side=signal.side,
                        type="market",
                        amount=amount,
                        bot=bot,
                        cid=cid,
                        reason=signal.reason,
                        is_paper=bot.trading_mode == TradingMode.PAPER,
                        stop_loss=Decimal(str(round(signal.stop_loss, 8))) if signal.stop_loss else None,
                        take_profit=Decimal(str(round(signal.target, 8))) if signal.target else None,
                    )
                if signal.side == "sell" or amount >= market["min_amount"]:
                    traded = True
                    decision = Decision.TRADED_BUY if signal.side == "buy" else Decision.TRADED_SELL
                    if signal.side == "sell" and signal.reason.startswith("stop loss"):  # the stop-loss guard counts it
                        exits.record_event(
                            bot, BotEventKind.EXIT, "stop_loss", f"Sold {amount} {bot.symbol}: {signal.reason}", cid
                        )
                    why = f"{'Bought' if signal.side == 'buy' else 'Sold'} {amount} {bot.symbol}: {signal.reason}"
        if signal is not None:  # every decision is kept, traded or not (bots.services.record_signal)
            record_signal(bot, signal, position_open=position is not None, traded=traded)
        now = timezone.now()
        decided = {"last_decision": decision, "last_decision_reason": why[:255], "last_decision_at": now}
        if signal is not None:
            decided["last_signal"] = _signal_view(signal, now)
        Bot.objects.filter(pk=bot.pk).update(
            last_tick_at=now,
            failure_count=0,
            last_error="",
            next_tick_at=scheduling.next_tick_at(now, 0),
            risk_block=(blocked or protected)[:255],
            **decided,
        )
    return "traded" if traded else "ok"


def _record_failure(bot_id, exc):
    message = exc.message if isinstance(exc, AmarktaiError) else f"{exc.__class__.__name__}: {exc}"
    logger.warning("tick failed for bot %s: %s", bot_id, message)
    with transaction.atomic():
        bot = Bot.objects.select_for_update().filter(pk=bot_id).first()
        if bot is None:
            return
        now = timezone.now()  # the row is locked: bot.failure_count + 1 is the count this UPDATE writes
        Bot.objects.filter(pk=bot.pk).update(
            failure_count=F("failure_count") + 1,
            last_error=message[:1000],
            last_tick_at=now,
            next_tick_at=scheduling.next_tick_at(now, bot.failure_count + 1),
        )
        bot.refresh_from_db()
        if bot.failure_count >= max_failures() and bot.status in (BotStatus.ACTIVE, BotStatus.CREATED):
            set_status(
                bot, BotStatus.PAUSED, f"Bot {bot.name} paused after {bot.failure_count} failed ticks: {message[:200]}"
            )


def _count(counts, outcome, n=1):
    counts[outcome] = counts.get(outcome, 0) + n


def _schedulable(bot):
    """What the per-bot path checks first under its lock: a bot it would skip is skipped here without one."""
    return bot.status in (BotStatus.ACTIVE, BotStatus.CREATED) and not bot.paused_by_admin and ticks(bot.strategy)


class _Group:
    """What the quiet/locked sorting needs of a group's bots, read in a constant number of queries (no locks): their
    open positions, those positions' exit plans, and which owners have resting paper orders on the market."""

    def __init__(self, exchange, symbol, bots):
        paper_users = {str(bot.user_id) for bot in bots if bot.trading_mode == TradingMode.PAPER}
        self.resting = paper_resting_order_users(exchange, symbol, paper_users) if paper_users else set()
        self.positions, self.plans, self.blocks, self.risk = {}, {}, {}, {}
        # A stock market outside its session: every bot only waits (_waits), so nothing else is read.
        self.closed = not sessions.is_open(symbol)
        if self.closed:
            return
        for position in Position.objects.filter(bot_id__in=[bot.pk for bot in bots], is_open=True).order_by("pk"):
            self.positions.setdefault(str(position.bot_id), position)  # the one Position...first() would return
        self.plans = (
            {str(plan.position_id): plan for plan in ExitPlan.objects.filter(position__in=self.positions.values())}
            if self.positions
            else {}
        )
        # self.blocks: (user id, quote currency) -> risk.entry_block(...) of this group
        flat_owners = {str(bot.user_id) for bot in bots if str(bot.pk) not in self.positions}
        self.risk = config_section_many(flat_owners, "risk") if flat_owners else {}


KEEP = object()  # a quiet bot holding a position keeps its risk_block (the per-bot path writes bot.risk_block back)


def _quiet_block(bot, group, signals):
    """The risk_block a quiet tick of ``bot`` writes (KEEP: its own), or None when the bot takes the locked per-bot
    path: a new bot (made active there), a live bot (its exchange keys are checked per tick), a DCA/grid bot, an owner
    with resting paper orders to match, a position with an exit plan, a signal (acted on or recorded), or an error."""
    if bot.status != BotStatus.ACTIVE or bot.trading_mode != TradingMode.PAPER or is_managed(bot.strategy):
        return None
    if group.closed or str(bot.user_id) in group.resting:
        return None
    position = group.positions.get(str(bot.pk))
    if position is not None:
        plan = group.plans.get(str(position.pk))
        if exits.has_exits(plan.plan if plan is not None else exits.plan_from_params(bot.params)):
            return None
    try:
        if signals.decide(bot, _position_view(position)) is not None:
            return None
        if position is not None:
            return KEEP
        key = (bot.user_id, bot.symbol.split("/")[-1])
        if key not in group.blocks:
            # Per owner and quote currency: the same for all their bots.
            group.blocks[key] = risk.entry_block(bot, group.risk.get(str(bot.user_id)))
        return group.blocks[key]
    except Exception:  # noqa: BLE001 - the per-bot path decides again and records the failure on the bot
        return None


def _write_quiet(quiet, since):
    """One UPDATE for the group's quiet bots (per batch of SQLite's parameter limit): what the per-bot path writes
    after a tick without a signal. Never a bot paused or admin-locked meanwhile (the WHERE is checked again on the row's
    latest version), nor one that another tick wrote after this group started."""
    now = timezone.now()
    prefix, suffix = NO_SIGNAL_REASON.split("{strategy}")
    limit = connection.features.max_query_params
    size = max((limit - 20) // 2, 1) if limit else len(quiet)
    with transaction.atomic():
        for start in range(0, len(quiet), size):
            batch = quiet[start : start + size]
            blocked, kept = {}, []
            for bot, block in batch:
                if block is KEEP:
                    kept.append(bot.pk)
                elif block:
                    blocked.setdefault(block[:255], []).append(bot.pk)
            whens = [When(pk__in=pks, then=Value(block)) for block, pks in blocked.items()]
            if kept:
                whens.append(When(pk__in=kept, then=F("risk_block")))
            _write_ticked(
                [bot.pk for bot, _ in batch],
                since,
                now,
                Decision.NO_SIGNAL,
                Concat(Value(prefix), F("strategy"), Value(suffix), output_field=models.CharField()),
                risk_block=Case(*whens, default=Value(""), output_field=models.CharField()) if whens else Value(""),
            )
        invalidate_bot_lists(bot.user_id for bot, _ in quiet)


def _write_ticked(pks, since, now, decision, reason, **extra):
    """One UPDATE of what a tick writes, on the bots of ``pks`` a batched write may still write: active, not locked by
    an admin, and not ticked since ``since`` (by the per-bot path or another worker meanwhile)."""
    rows = Bot.objects.filter(
        Q(last_tick_at__isnull=True) | Q(last_tick_at__lt=since),
        pk__in=pks,
        status=BotStatus.ACTIVE,
        paused_by_admin=False,
    )
    # Plain QuerySet.update: the callers drop the owners' cached bot lists, once per owner.
    models.QuerySet.update(
        rows,
        last_tick_at=now,
        failure_count=0,
        last_error="",
        next_tick_at=scheduling.next_tick_at(now, 0),
        last_decision=decision,
        last_decision_reason=reason,
        last_decision_at=now,
        updated_at=now,
        **extra,
    )


# What the group path reads of its bots (the per-bot path reads its bot again, whole, under the row lock). A field
# outside this list would cost a query per bot: test_queries_do_not_grow_with_the_number_of_bots catches that.
GROUP_FIELDS = (
    "id",
    "user_id",
    "exchange",
    "symbol",
    "status",
    "paused_by_admin",
    "trading_mode",
    "strategy",
    "params",
    "risk_mode",
)


def _waits(bot, group):
    """Whether ``bot``, in a group whose stock market is closed, would do nothing on the per-bot path but record
    "market closed": an active paper bot (a live one has its keys checked, a new one is made active there) whose owner
    has no resting paper order on the market (match_open_orders has nothing to cancel or fill). The per-bot path
    reads the market's clock before the strategy, the position or a DCA/grid bot's orders: this holds for every
    strategy."""
    return (
        bot.status == BotStatus.ACTIVE
        and bot.trading_mode == TradingMode.PAPER
        and str(bot.user_id) not in group.resting
    )


def _write_waiting(bots, symbol, since):
    """One UPDATE for the bots of a closed market that only wait (_waits): what the per-bot path writes for them (the
    paper exchange's market_clock is trading.sessions' clock of the symbol, the same for the whole group), guarded like
    _write_quiet."""
    now = timezone.now()
    clock = sessions.market_clock(symbol)
    opens = f"; it opens at {iso(clock['next_open'])}" if clock.get("next_open") else ""
    reason = f"{symbol}'s market is closed ({clock.get('session')}){opens}"[:255]
    pks = [bot.pk for bot in bots]
    limit = connection.features.max_query_params
    size = max(limit - 20, 1) if limit else len(pks)
    with transaction.atomic():
        for start in range(0, len(pks), size):
            _write_ticked(pks[start : start + size], since, now, Decision.MARKET_CLOSED, reason)
        invalidate_bot_lists(bot.user_id for bot in bots)


def _done(started, counts, n):
    """Metrics and counts of ``n`` bots written by one batched UPDATE (durable once it commits)."""
    elapsed = time.perf_counter() - started
    BOT_TICKS.labels("ok").inc(n)
    for _ in range(n):
        BOT_TICK_SECONDS.observe(elapsed)
    _count(counts, "ok", n)


def tick_group(exchange, symbol, timeframe, bot_ids):
    """Tick every bot of one market, batched (see the module docstring). Candles are fetched once per source the
    group's bots trade on (live bots: the exchange's real candles; paper bots: settings.MARKET_DATA_SOURCE). When a
    source fails, its bots' ticks fail and are recorded; no other source stands in. Returns outcome counts."""
    if system.trading_halted():  # stopped while the task waited in the queue: fetch nothing, tick nothing
        BOT_TICKS.labels("skipped").inc(len(bot_ids))
        return {"skipped": len(bot_ids)}
    started, since = time.perf_counter(), timezone.now()
    found = {str(bot.pk): bot for bot in Bot.objects.filter(pk__in=bot_ids).only(*GROUP_FIELDS)}
    counts, by_source = {}, {}
    for bot_id in bot_ids:
        bot = found.get(str(bot_id))
        if bot is None or not _schedulable(bot):
            _count(counts, "skipped")
            continue
        by_source.setdefault(source_for(bot.trading_mode), []).append(bot)
    if counts:
        BOT_TICKS.labels("skipped").inc(counts["skipped"])
    tickable = [bot for bots in by_source.values() for bot in bots]
    group = _Group(exchange, symbol, tickable) if tickable else None
    if group is not None and group.closed:
        waiting = [bot for bot in tickable if _waits(bot, group)]
        if waiting:
            _write_waiting(waiting, symbol, since)
            _done(started, counts, len(waiting))
            written = {bot.pk for bot in waiting}
            by_source = {
                source: rest for source, bots in by_source.items() if (rest := [b for b in bots if b.pk not in written])
            }
    for source, bots in by_source.items():
        if source == "live" and needs_account_for_prices(exchange):
            for bot in bots:  # a broker: each owner's own candles
                try:
                    candles = owner_candles(bot.pk, exchange, symbol, timeframe)
                except Exception as exc:  # noqa: BLE001 - the owner's market data failure is the bot's failure
                    _record_failure(bot.pk, exc)
                    BOT_TICKS.labels("error").inc()
                    _count(counts, "error")
                    continue
                _count(counts, tick_bot(bot.pk, candles, source))
            continue
        try:
            candles = candles_for(exchange, symbol, timeframe, source)
        except Exception as exc:  # noqa: BLE001 - the market data failure is every one of these bots' failure
            for bot in bots:
                _record_failure(bot.pk, exc)
            BOT_TICKS.labels("error").inc(len(bots))
            _count(counts, "error", len(bots))
            continue
        signals = Signals(candles)
        quiet, locked = [], []
        for bot in bots:
            block = _quiet_block(bot, group, signals)
            if block is None:
                locked.append(bot)
            else:
                quiet.append((bot, block))
        if quiet:
            _write_quiet(quiet, since)
            _done(started, counts, len(quiet))
        for bot in locked:
            _count(counts, tick_bot(bot.pk, candles, source, signals))
    return counts
