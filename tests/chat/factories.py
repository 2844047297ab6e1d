"""Bots, orders and trades written straight to the database (the engine is not under test here)."""

import itertools
import uuid
from decimal import Decimal

from django.utils import timezone

from bots.models import Bot
from trading.models import Order, Position, Trade

_seq = itertools.count()


def make_bot(
    user,
    name,
    status="active",
    capital="1000",
    profit="0",
    risk_mode="balanced",
    exchange="luno",
    symbol="BTC/ZAR",
    **extra,
):
    capital, profit = Decimal(capital), Decimal(profit)
    return Bot.objects.create(
        user=user,
        name=name,
        exchange=exchange,
        symbol=symbol,
        status=status,
        risk_mode=risk_mode,
        initial_capital=capital,
        current_capital=capital + profit,
        total_profit=profit,
        **extra,
    )


def make_trade(user, bot, side, amount, price, profit_loss="0", when=None, closing=None):
    when = when or timezone.now()
    order = Order.objects.create(
        user=user,
        bot=bot,
        exchange=bot.exchange if bot else "luno",
        symbol=bot.symbol if bot else "BTC/ZAR",
        side=side,
        type="market",
        amount=Decimal(amount),
        filled=Decimal(amount),
        average=Decimal(price),
        status="closed",
        client_order_id=f"t-{next(_seq)}-{uuid.uuid4().hex[:8]}",
        created_at=when,
    )
    profit_loss = Decimal(profit_loss)
    fields = {f.name for f in Trade._meta.get_fields()}
    extra = {}
    if "is_closing" in fields:
        extra["is_closing"] = (side == "sell") if closing is None else closing
    return Trade.objects.create(
        user=user,
        bot=bot,
        order=order,
        exchange=order.exchange,
        symbol=order.symbol,
        side=side,
        amount=Decimal(amount),
        price=Decimal(price),
        profit_loss=profit_loss,
        created_at=when,
        **extra,
    )


def make_position(user, bot, amount, entry_price):
    return Position.objects.create(
        user=user,
        bot=bot,
        exchange=bot.exchange,
        symbol=bot.symbol,
        amount=Decimal(amount),
        entry_price=Decimal(entry_price),
    )
