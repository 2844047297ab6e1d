"""The bot engine: one tick = fetch candles (shared by every bot on the same exchange/symbol/timeframe; a broker's live
bots get theirs through their owner's credential, brokers serve prices only to a logged-in account), ask the strategy,
place at most one order through the exchange adapter.

Exactly-once: the bot row is locked (SELECT ... FOR UPDATE) for the whole decision, and the order's client id is derived
from (bot, signal candle, side), unique in the database: a retried or duplicated tick finds the order and does nothing.
Failures are data: a failed tick writes last_error and failure_count; the dispatcher backs off exponentially; after
BOT_MAX_FAILURES in a row the bot is paused and an alert is published. One bot never stops the others.
"""

import logging
import math
import time
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from amarktai.errors import AmarktaiError, ProviderError
from amarktai.utils import iso
from bots import exits, managed, protections, risk, scheduling, sizing
from bots.managed_view import is_managed
from bots.models import Bot, BotEventKind, BotStatus, Decision, TradingMode
from bots.services import max_failures, record_signal, set_status
from bots.strategies import get_strategy, ticks
from realtime.metrics import BOT_TICK_SECONDS, BOT_TICKS
from trading import services as trading
from trading import system
from trading.exchanges import get_exchange, market_data, source_for
from trading.models import Order, Position
from trading.platforms import get_platform

logger = logging.getLogger(__name__)
STEP = Decimal("0.00000001")
CANDLES = 100


def candles_for(exchange, symbol, timeframe, source):
    """Candles of one market from one source ("simulated" or "live"), cached for a few seconds so every bot and worker
    on it shares one fetch. A failure raises: nothing else is ever substituted."""
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


def tick_bot(bot_id, candles, source=None):
    """One decision for one bot on ``candles`` from ``source`` (None: the source the bot's mode trades on). Returns
    "ok", "traded", "skipped" or "error"."""
    started = time.perf_counter()
    if system.trading_halted():  # an admin stopped the system: start no tick (one already running finishes)
        BOT_TICKS.labels("skipped").inc()
        return "skipped"
    try:
        outcome = _tick(bot_id, candles, source)
    except Exception as exc:  # noqa: BLE001 - a bot's failure is recorded on the bot, never raised to the worker
        try:
            _record_failure(bot_id, exc)
        except Exception:
            logger.exception("could not record the failure of bot %s", bot_id)
        outcome = "error"
    BOT_TICKS.labels("error" if outcome == "error" else "ok" if outcome != "skipped" else "skipped").inc()
    BOT_TICK_SECONDS.observe(time.perf_counter() - started)
    return outcome


def _tick(bot_id, candles, source):
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
        position = Position.objects.filter(bot=bot, is_open=True).first()
        # The position's exit plan (bots.exits) first, from the latest price; an exit is this tick's one order.
        exited, plan, sold = exits.run_exits(bot, position, exchange) if position is not None else ("", None, False)
        if sold:
            position = Position.objects.filter(bot=bot, is_open=True).first()
        view = _position_view(position)
        if view is not None and exits.manages_take_profit(plan):
            view["take_profit"] = None  # the plan's targets / trailing take profit replace the single take profit
        signal = None if exited else get_strategy(bot.strategy).decide(candles, view, bot.params, bot.risk_mode)
        traded = sold
        # The owner's risk limits (bots.risk): a flat bot opens nothing while one is reached; exits always run.
        blocked = risk.entry_block(bot) if position is None else bot.risk_block
        protected = ""  # bots.protections: asked only when a flat bot would buy
        if not blocked and position is None and signal is not None and signal.side == "buy":
            protected = protections.entry_block(bot)
        decision, why = Decision.NO_SIGNAL, f"The {bot.strategy} strategy saw no entry or exit on the latest candle"
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
            if not Order.objects.filter(client_order_id=cid).exists():  # a retried tick places nothing twice
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
                if signal.side == "sell" or amount >= market["min_amount"]:
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


def tick_group(exchange, symbol, timeframe, bot_ids):
    """Tick every bot of one market. Candles are fetched once per source the group's bots trade on (live bots: the
    exchange's real candles; paper bots: settings.MARKET_DATA_SOURCE). When a source fails, its bots' ticks fail and
    are recorded; no other source stands in. Returns outcome counts."""
    if system.trading_halted():  # stopped while the task waited in the queue: fetch nothing, tick nothing
        BOT_TICKS.labels("skipped").inc(len(bot_ids))
        return {"skipped": len(bot_ids)}
    modes = {str(pk): mode for pk, mode in Bot.objects.filter(pk__in=bot_ids).values_list("id", "trading_mode")}
    by_source = {}
    for bot_id in bot_ids:
        if str(bot_id) in modes:
            by_source.setdefault(source_for(modes[str(bot_id)]), []).append(bot_id)
    counts = (
        {"skipped": len(bot_ids) - sum(len(ids) for ids in by_source.values())} if len(modes) < len(bot_ids) else {}
    )
    for source, ids in by_source.items():
        if source == "live" and needs_account_for_prices(exchange):
            for bot_id in ids:  # a broker: each owner's own candles
                try:
                    candles = owner_candles(bot_id, exchange, symbol, timeframe)
                except Exception as exc:  # noqa: BLE001 - the owner's market data failure is the bot's failure
                    _record_failure(bot_id, exc)
                    BOT_TICKS.labels("error").inc()
                    counts["error"] = counts.get("error", 0) + 1
                    continue
                outcome = tick_bot(bot_id, candles, source)
                counts[outcome] = counts.get(outcome, 0) + 1
            continue
        try:
            candles = candles_for(exchange, symbol, timeframe, source)
        except Exception as exc:  # noqa: BLE001 - the market data failure is every one of these bots' failure
            for bot_id in ids:
                _record_failure(bot_id, exc)
            BOT_TICKS.labels("error").inc(len(ids))
            counts["error"] = counts.get("error", 0) + len(ids)
            continue
        for bot_id in ids:
            outcome = tick_bot(bot_id, candles, source)
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts
