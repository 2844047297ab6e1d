"""Reads of the ranking app. Ranked models and ranking runs are platform-wide (strategy x params x market metrics,
no user data): any signed-in user may read them. Parameter searches and deploy requests are the user's own."""

from typing import Any

from django.db.models import QuerySet

from amarktai.errors import NotFound
from amarktai.tenancy import access
from bots.models import Bot
from ranking.models import Optimization, RankedModel, TrainingRun


def optimizations(user: Any, limit: int = 50) -> QuerySet:
    return Optimization.objects.owned_by(user).order_by("-created_at")[:limit]


def access_optimization(user: Any, optimization_id: Any) -> Optimization:
    return access(Optimization.objects, user, optimization_id, "Optimization")


def ranked_models(
    exchange: str | None = None, symbol: str | None = None, strategy: str | None = None, limit: int = 100
) -> QuerySet:
    rows = RankedModel.objects.all()
    if exchange:
        rows = rows.filter(exchange=exchange)
    if symbol:
        rows = rows.filter(symbol=symbol)
    if strategy:
        rows = rows.filter(strategy=strategy)
    return rows.order_by("-score", "strategy", "id")[:limit]


def access_model(model_id: Any) -> RankedModel:
    try:
        row = RankedModel.objects.filter(pk=model_id).first()
    except (ValueError, TypeError):
        row = None
    if row is None:
        raise NotFound("Model not found")
    return row


def deployed_counts(user: Any, models: list) -> dict[str, int]:
    """{model id: how many of the user's bots trade it now} (same market, strategy and parameters; the bot's own
    position_pct aside)."""
    bots = list(Bot.objects.owned_by(user).values_list("exchange", "symbol", "strategy", "params"))
    counts = {}
    for model in models:
        counts[str(model.id)] = sum(
            1
            for exchange, symbol, strategy, params in bots
            if (exchange, symbol, strategy) == (model.exchange, model.symbol, model.strategy)
            and {k: v for k, v in (params or {}).items() if k != "position_pct"} == model.params
        )
    return counts


def training_runs(limit: int = 20) -> QuerySet:
    return TrainingRun.objects.order_by("-created_at")[:limit]


def access_training_run(run_id: Any) -> TrainingRun:
    try:
        row = TrainingRun.objects.filter(pk=run_id).first()
    except (ValueError, TypeError):
        row = None
    if row is None:
        raise NotFound("Training run not found")
    return row
