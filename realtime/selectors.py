"""Read-only queries for the real-time feeds (per user, from the database)."""

from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from amarktai.utils import money
from bots.models import Bot, BotStatus

_ZERO = Decimal("0")


def overview(user_id):
    """{"active_bots", "total_bots", "total_profit", "total_capital"} of one user's bots (money as JSON floats)."""
    row = Bot.objects.filter(user_id=user_id).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=BotStatus.ACTIVE)),
        profit=Coalesce(Sum("total_profit"), _ZERO),
        capital=Coalesce(Sum("current_capital"), _ZERO),
    )
    return {
        "active_bots": row["active"],
        "total_bots": row["total"],
        "total_profit": money(row["profit"], 2),
        "total_capital": money(row["capital"], 2),
    }


def total_bots(user_id):
    return Bot.objects.filter(user_id=user_id).count()
