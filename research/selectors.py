"""Reads of the research app, always scoped to one user."""

from typing import Any

from django.db.models import QuerySet

from amarktai.tenancy import access
from research.models import Backtest


def access_backtest(user: Any, backtest_id: Any) -> Backtest:
    """The user's backtest ``backtest_id``; 404 for another user's id."""
    result: Backtest = access(Backtest.objects, user, backtest_id, "Backtest")
    return result


def backtests(user: Any, limit: int = 50) -> QuerySet[Backtest]:
    """The user's backtests, newest first, without their (large) results."""
    return Backtest.objects.owned_by(user).defer("result").order_by("-created_at")[:limit]
