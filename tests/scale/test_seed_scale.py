"""manage.py seed_scale at a small size: the data it makes is consistent (CI runs it; the benchmark runs it big)."""

from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts.models import User
from bots.models import Bot
from tests.scale.helpers import assert_tallies_match
from trading.models import Order, Position, Trade


@pytest.mark.django_db(transaction=True)
def test_seed_scale_small_is_consistent():
    call_command("seed_scale", users=3, bots=10, trades=200, seed=7, verbosity=0)
    users = list(User.objects.filter(email__startswith="scale-"))
    assert len(users) == 3
    bots = {b.pk: b for b in Bot.objects.all()}
    assert len(bots) == 10 and Trade.objects.count() == 200 and Order.objects.count() == 200
    assert {b.user_id for b in bots.values()} == {u.pk for u in users}  # every user has bots

    profit = defaultdict(Decimal)
    last_side = {}
    for trade in Trade.objects.select_related("order").order_by("created_at", "id"):
        order = trade.order
        # Every trade belongs to its order's owner, bot, market and side; a bot's trades to the bot's owner and market.
        assert (order.user_id, order.bot_id, order.exchange, order.symbol, order.side) == (
            trade.user_id,
            trade.bot_id,
            trade.exchange,
            trade.symbol,
            trade.side,
        )
        assert order.filled == trade.amount and order.status == "closed"
        book = (trade.user_id, trade.bot_id, trade.exchange, trade.symbol)
        if trade.bot_id:
            bot = bots[trade.bot_id]
            assert (bot.user_id, bot.exchange, bot.symbol) == (trade.user_id, trade.exchange, trade.symbol)
            profit[trade.bot_id] += trade.profit_loss
        # A book alternates buy and sell, starting with a buy; only sells realise P&L.
        expected = "sell" if last_side.get(book) == "buy" else "buy"
        assert trade.side == expected
        if trade.side == "buy":
            assert trade.profit_loss == 0
        last_side[book] = trade.side
    assert sum(1 for t in Trade.objects.all() if t.bot_id is None) > 0  # some of the users' own trades too

    for bot in bots.values():
        assert bot.total_profit == profit[bot.pk]
        assert bot.current_capital == bot.initial_capital + bot.total_profit
    # An open position for every book whose last trade is a buy, none for the others.
    open_books = {(p.user_id, p.bot_id, p.exchange, p.symbol) for p in Position.objects.filter(is_open=True)}
    assert open_books == {book for book, side in last_side.items() if side == "buy"}
    assert_tallies_match()
    # The first user is the heavy one.
    heavy = User.objects.get(email__endswith="-0@example.com")
    assert Trade.objects.filter(user=heavy).count() > 200 * 0.1


@pytest.mark.django_db
def test_rebuild_trade_tallies_command_repairs_and_checks():
    from io import StringIO

    from django.core.management.base import CommandError

    from trading.models import TradeTally

    call_command("seed_scale", users=2, bots=3, trades=40, seed=1, verbosity=0)
    call_command("rebuild_trade_tallies", "--check", stdout=StringIO())
    TradeTally.objects.all().update(wins=0, trades=0)
    with pytest.raises(CommandError, match="differ"):
        call_command("rebuild_trade_tallies", "--check", stdout=StringIO())
    call_command("rebuild_trade_tallies", stdout=StringIO())
    call_command("rebuild_trade_tallies", "--check", stdout=StringIO())
    assert_tallies_match()
