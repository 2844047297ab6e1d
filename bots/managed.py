"""The engine's path for order-managing strategies (DCA, grid), called by bots.engine._tick with the bot row locked.

One tick: bring the bot's open orders in line with the exchange (fills are booked as for every order), ask the
strategy which orders should exist (bots.strategies.managed: a pure function of params, the persisted state, the
orders and the price), cancel the bot's open orders that are no longer wanted, then place the wanted ones that do not
exist, each under the client order id derived from (bot, key). A retried tick or a restarted worker computes the same
ids and finds the orders: nothing is placed twice. The new state is written in the same transaction.
"""

import time
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from bots import risk
from bots.managed_view import candidate_keys, key_cid, seen_orders
from bots.models import Bot, BotStatus, Decision, TradingMode
from bots.services import set_status
from bots.strategies.managed import DCA, MANAGED, Desired
from trading import services as trading
from trading.exchanges.base import Exchange, round_to_step
from trading.models import Order, OrderStatus, Position


def _sync_open_orders(bot: Bot, exchange: Exchange) -> None:
    """Reconcile the bot's open orders with the exchange (a resting order may have filled or vanished meanwhile)."""
    for order in Order.objects.filter(bot=bot, status=OrderStatus.OPEN, children__isnull=True):
        trading.sync_order(order, exchange)


def _rounded(market: dict, want: Desired) -> tuple[Decimal, Decimal | None]:
    amount = round_to_step(want.amount, market["amount_precision"], ROUND_DOWN)
    price = None
    if want.price is not None:  # buys round down, sells up: never worse than the level asked for
        price = round_to_step(want.price, market["price_precision"], ROUND_DOWN if want.side == "buy" else ROUND_UP)
    return amount, price


def tick(bot: Bot, exchange: Exchange) -> tuple[str, str, bool]:
    """(decision, why, whether an order was placed). Raises on exchange failures (the tick is then recorded as failed
    and everything it did is rolled back)."""
    strategy = MANAGED[bot.strategy]()
    params = strategy.params(bot.params)
    _sync_open_orders(bot, exchange)
    price = Decimal(str(exchange.fetch_ticker(bot.symbol)["last"]))
    seen, _orders = seen_orders(bot, candidate_keys(bot, params))
    if isinstance(strategy, DCA):
        blocked = risk.entry_block(bot)
        state, desired, what = strategy.plan(params, bot.managed_state, seen, price, time.time(), may_open=not blocked)
    else:
        blocked = "" if (bot.managed_state or {}).get("run") else risk.entry_block(bot)
        if blocked:  # a grid not yet started opens nothing while one of the owner's risk limits is reached
            return Decision.RISK_LIMIT, f"Grid not started: {blocked}"[:255], False
        position = Position.objects.filter(bot=bot, is_open=True).first()
        held = position.amount if position is not None else Decimal("0")
        state, desired, what = strategy.plan(params, bot.managed_state, seen, price, position_amount=held)
    wanted = {key_cid(bot.pk, key) for key in desired}
    # Cancel first: a replaced take-profit (or a grid ending) frees the coins or cash the new orders need.
    for order in Order.objects.filter(bot=bot, status=OrderStatus.OPEN, parent__isnull=True).exclude(
        client_order_id__in=wanted
    ):
        trading.cancel_order(order, exchange)
    market = exchange.load_markets()[bot.symbol]
    existing = set(Order.objects.filter(client_order_id__in=wanted).values_list("client_order_id", flat=True))
    placed, skipped = 0, []
    for key, want in desired.items():
        cid = key_cid(bot.pk, key)
        if want is None or cid in existing:
            continue
        amount, limit = _rounded(market, want)
        if amount < (market.get("min_amount") or 0) or amount <= 0:
            skipped.append(f"{want.reason}: {amount} is below the minimum of {market.get('min_amount')}")
            continue
        trading.place_order(
            bot.user,
            exchange,
            symbol=bot.symbol,
            side=want.side,
            type=want.type,
            amount=amount,
            price=limit,
            bot=bot,
            cid=cid,
            reason=want.reason,
            is_paper=bot.trading_mode == TradingMode.PAPER,
        )
        placed += 1
    if state != bot.managed_state:
        Bot.objects.filter(pk=bot.pk).update(managed_state=state)
        bot.managed_state = state
    if state.get("ended"):
        set_status(bot, BotStatus.STOPPED, f"{bot.name}: {what}")
    if skipped:
        return Decision.BELOW_MIN_SIZE, "; ".join(skipped), placed > 0
    if placed:
        return Decision.ORDERS_PLACED, f"Placed {placed} order(s): {what}", True
    return Decision.ORDERS_IN_PLACE, what[:255], False
