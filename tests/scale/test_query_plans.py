"""EXPLAIN checks of the hot queries over the big tables: a missing index fails here.

On PostgreSQL the data set is seeded big enough (and ANALYZEd) for the planner to choose honestly, and no plan may hold
a Seq Scan on a big table; on SQLite, EXPLAIN QUERY PLAN must search or walk an index ("USING INDEX", "USING
COVERING INDEX", "USING PRIMARY KEY") rather than "SCAN <table>"."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from amarktai import keyset
from bots.models import Bot
from trading.models import Position, Trade, TradeTally
from trading.selectors import filtered_trades

BIG = ["trading_trade", "trading_order", "bots_bot", "accounts_user", "trading_tradetally", "trading_position"]


def _problems(name, queryset):
    plan = queryset.explain()
    found = []
    for table in BIG:
        if connection.vendor == "postgresql":
            if f"Seq Scan on {table}" in plan:
                found.append(f"{name}: Seq Scan on {table}")
        elif re.search(rf"\bSCAN {table}\b(?! USING (COVERING )?INDEX| USING (INTEGER )?PRIMARY KEY)", plan):
            found.append(f"{name}: SCAN {table} without an index")
    return [f"{p}\n{plan}" for p in found]


def hot_queries(heavy, bot, deep_trade, first_user, first_bot):
    today = timezone.now() - timedelta(days=1)
    trades = filtered_trades(heavy)
    return {
        "trades first page": trades[:51],
        "trades deep page (cursor)": keyset.after(trades, (deep_trade.created_at, deep_trade.pk))[:51],
        "a bot's trades": filtered_trades(heavy, bot_id=bot.pk)[:51],
        "metrics: tallies": TradeTally.objects.owned_by(heavy).values("bot_id", "symbol", "closed", "wins"),
        "metrics: today's P&L": Trade.objects.owned_by(heavy)
        .filter(created_at__gte=today, created_at__lt=timezone.now())
        .values("symbol")
        .annotate(p=Sum("profit_loss"))
        .order_by(),
        "metrics: bots": Bot.objects.owned_by(heavy).values("symbol", "status", "current_capital"),
        "metrics: open positions": Position.objects.owned_by(heavy).filter(is_open=True).order_by("-opened_at"),
        "bots list": Bot.objects.owned_by(heavy),
        "admin users page": User.objects.order_by("created_at", "id")[:51],
        "admin users next page": keyset.after(
            User.objects.order_by("created_at", "id"), (first_user.created_at, first_user.pk), newest_first=False
        )[:51],
        "admin bots page": Bot.objects.select_related("user").order_by("-created_at", "-id")[:51],
        "admin bots next page": keyset.after(
            Bot.objects.select_related("user").order_by("-created_at", "-id"), (first_bot.created_at, first_bot.pk)
        )[:51],
        "admin bots of one user": Bot.objects.select_related("user")
        .filter(user=heavy)
        .order_by("-created_at", "-id")[:51],
    }


@pytest.mark.django_db(transaction=True)
def test_hot_queries_use_indexes():
    big = connection.vendor == "postgresql"
    size = {"users": 400, "bots": 4000, "trades": 40000} if big else {"users": 40, "bots": 400, "trades": 4000}
    call_command("seed_scale", seed=3, verbosity=0, heavy=0.3, **size)
    heavy = User.objects.get(email__endswith="-0@example.com")
    bot = Bot.objects.filter(user=heavy).first()
    deep_trade = filtered_trades(heavy)[Trade.objects.filter(user=heavy).count() // 2]
    first_user = User.objects.order_by("created_at", "id")[size["users"] // 2]
    first_bot = Bot.objects.order_by("-created_at", "-id")[size["bots"] // 2]
    problems = []
    for name, queryset in hot_queries(heavy, bot, deep_trade, first_user, first_bot).items():
        problems += _problems(name, queryset)
    assert not problems, "\n\n".join(problems)


@pytest.mark.django_db
def test_the_check_catches_a_missing_index():
    """The check itself: a query no index serves (trades by price) is reported."""
    query = Trade.objects.filter(price=1).order_by("amount")
    if connection.vendor == "postgresql":
        assert "Seq Scan on trading_trade" in query.explain()  # an empty table: nothing but a scan is possible
    assert _problems("by price", query)
