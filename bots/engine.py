"""The bot engine: one tick = fetch candles (shared by every bot on the same exchange/symbol/timeframe), ask the strategy,
place at most one order through the exchange adapter.

Exactly-once: the bot row is locked (SELECT ... FOR UPDATE) for the whole decision, and the order's client id is derived
from (bot, signal candle, side), unique in the database: a retried or duplicated tick finds the order and does nothing.
Failures are data: a failed tick writes last_error and failure_count; the dispatcher backs off exponentially; after
BOT_MAX_FAILURES in a row the bot is paused and an alert is published. One bot never stops the others.
"""

import logging
import time
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from amarktai.errors import AmarktaiError
from bots.models import Bot, BotStatus, TradingMode
from bots.strategies import RISK_PROFILES, get_strategy
from realtime.metrics import BOT_TICK_SECONDS, BOT_TICKS
from trading import services as trading
from trading.exchanges import get_exchange, market_data
from trading.models import Order, Position

logger = logging.getLogger(__name__)
STEP = Decimal("0.00000001")
CANDLES = 100


def tick_seconds():
    return float(settings.BOT_TICK_SECONDS)


def candles_for(exchange, symbol, timeframe):
    """Candles for a market, cached for a few seconds so every bot and worker on it shares one fetch."""
    key = f"candles:{exchange}:{symbol}:{timeframe}:{int(time.time() // 5)}"
    candles = cache.get(key)
    if candles is None:
        raw = market_data(exchange).fetch_ohlcv(symbol, timeframe, CANDLES)
        candles = [[float(v) for v in row] for row in raw]
        cache.set(key, candles, 10)
    return candles


def _position_view(position):
    if position is None:
        return None
    return {"entry_price": float(position.entry_price), "amount": float(position.amount),
            "stop_loss": float(position.stop_loss) if position.stop_loss is not None else None,
            "take_profit": float(position.take_profit) if position.take_profit is not None else None}


def _order_amount(bot, price):
    """Position size: the bot's position_pct parameter (a fraction of capital, set e.g. through the assistant) or else
    its risk mode's share of capital."""
    risk = RISK_PROFILES.get(bot.risk_mode, RISK_PROFILES["balanced"])
    size_pct = Decimal(str((bot.params or {}).get("position_pct", risk.position_pct)))
    budget = bot.current_capital * min(size_pct, Decimal("1"))
    return (budget / price).quantize(STEP, rounding=ROUND_DOWN)


def tick_bot(bot_id, candles):
    """One decision for one bot. Returns "ok", "traded", "skipped" or "error"."""
    started = time.perf_counter()
    try:
        outcome = _tick(bot_id, candles)
    except Exception as exc:  # noqa: BLE001 - a bot's failure is recorded on the bot, never raised to the worker
        try:
            _record_failure(bot_id, exc)
        except Exception:  # noqa: BLE001 - e.g. the database itself is down: log, keep the worker alive
            logger.exception("could not record the failure of bot %s", bot_id)
        outcome = "error"
    BOT_TICKS.labels("error" if outcome == "error" else "ok" if outcome != "skipped" else "skipped").inc()
    BOT_TICK_SECONDS.observe(time.perf_counter() - started)
    return outcome


def _tick(bot_id, candles):
    with transaction.atomic():
        bot = Bot.objects.select_for_update().select_related("user").filter(pk=bot_id).first()
        if bot is None or bot.status not in (BotStatus.ACTIVE, BotStatus.CREATED):
            return "skipped"
        if bot.status == BotStatus.CREATED:
            from bots.services import set_status

            set_status(bot, BotStatus.ACTIVE)
        exchange = get_exchange(bot.user, bot.exchange, bot.trading_mode)
        if hasattr(exchange, "match_open_orders"):
            exchange.match_open_orders(bot.symbol)
        position = Position.objects.filter(bot=bot, is_open=True).first()
        signal = get_strategy(bot.strategy).decide(candles, _position_view(position), bot.params, bot.risk_mode)
        traded = False
        if signal is not None and (signal.side == "buy") == (position is None):
            cid = trading.client_order_id(bot.pk, signal.candle_ts, signal.side)
            if not Order.objects.filter(client_order_id=cid).exists():  # a retried tick places nothing twice
                # Size from the price the order will meet (the ask), not the candle close.
                amount = position.amount if signal.side == "sell" else _order_amount(
                    bot, Decimal(str(exchange.fetch_ticker(bot.symbol)["ask"])))
                market = exchange.load_markets()[bot.symbol]
                if signal.side == "sell" or amount >= market["min_amount"]:
                    trading.place_order(
                        bot.user, exchange, symbol=bot.symbol, side=signal.side, type="market", amount=amount, bot=bot,
                        cid=cid, reason=signal.reason, is_paper=bot.trading_mode == TradingMode.PAPER,
                        stop_loss=Decimal(str(round(signal.stop_loss, 8))) if signal.stop_loss else None,
                        take_profit=Decimal(str(round(signal.target, 8))) if signal.target else None)
                    traded = True
        Bot.objects.filter(pk=bot.pk).update(last_tick_at=timezone.now(), failure_count=0, last_error="")
    return "traded" if traded else "ok"


def _record_failure(bot_id, exc):
    from bots.services import max_failures, set_status

    message = exc.message if isinstance(exc, AmarktaiError) else f"{exc.__class__.__name__}: {exc}"
    logger.warning("tick failed for bot %s: %s", bot_id, message)
    with transaction.atomic():
        bot = Bot.objects.select_for_update().filter(pk=bot_id).first()
        if bot is None:
            return
        Bot.objects.filter(pk=bot.pk).update(failure_count=F("failure_count") + 1, last_error=message[:1000],
                                             last_tick_at=timezone.now())
        bot.refresh_from_db()
        if bot.failure_count >= max_failures() and bot.status in (BotStatus.ACTIVE, BotStatus.CREATED):
            set_status(bot, BotStatus.PAUSED,
                       f"Bot {bot.name} paused after {bot.failure_count} failed ticks: {message[:200]}")


def close_position(bot, reason="closed"):
    """Sell a bot's open position at market (used when deleting a bot). Must run inside a transaction."""
    position = Position.objects.filter(bot=bot, is_open=True).first()
    if position is None:
        return None
    exchange = get_exchange(bot.user, bot.exchange, bot.trading_mode)
    return trading.place_order(bot.user, exchange, symbol=bot.symbol, side="sell", type="market", amount=position.amount,
                               bot=bot, cid=trading.client_order_id(bot.pk, "close", position.pk), reason=reason,
                               is_paper=bot.trading_mode == TradingMode.PAPER)


def due_groups(now=None, limit=5000):
    """Active (and newly created) bots whose next tick is due, grouped by (exchange, symbol, timeframe). A bot that
    keeps failing is retried with exponential backoff: interval x 2^failures, capped at 64x."""
    now = now or timezone.now()
    interval = tick_seconds()
    groups = {}
    rows = Bot.objects.filter(status__in=[BotStatus.ACTIVE, BotStatus.CREATED]).values_list(
        "id", "exchange", "symbol", "timeframe", "last_tick_at", "failure_count")[:limit]
    for bot_id, exchange, symbol, timeframe, last_tick_at, failures in rows:
        wait = interval * (2 ** min(failures, 6)) * 0.9
        if last_tick_at is None or (now - last_tick_at).total_seconds() >= wait:
            groups.setdefault((exchange, symbol, timeframe), []).append(str(bot_id))
    return groups


def tick_group(exchange, symbol, timeframe, bot_ids):
    """Fetch the market's candles once, then tick every bot of the group. Returns outcome counts."""
    counts = {}
    try:
        candles = candles_for(exchange, symbol, timeframe)
    except Exception as exc:  # noqa: BLE001 - the market data failure is every bot's failure
        for bot_id in bot_ids:
            _record_failure(bot_id, exc)
        return {"error": len(bot_ids)}
    for bot_id in bot_ids:
        outcome = tick_bot(bot_id, candles)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
