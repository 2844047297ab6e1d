"""Celery tasks of the ranking app (the research queue). Beat runs rank_models every RANKING_SECONDS (the embedded
scheduler, bots.scheduler, does without Redis: RankingConfig.ready registers it)."""

from celery import shared_task

from ranking import services


@shared_task(name="ranking.run_optimization", ignore_result=True)
def run_optimization(optimization_id: str) -> None:
    services.run_optimization(optimization_id)


@shared_task(name="ranking.train_models", ignore_result=True)
def train_models(run_id: str) -> None:
    services.run_training(run_id)


@shared_task(name="ranking.rank_models", ignore_result=True)
def rank_models() -> None:
    """The periodic ranking of every strategy x preset on the markets active bots trade."""
    services.rank_periodic()


def rank_models_periodic() -> None:
    """What the embedded scheduler calls (same work as the beat entry), on the research thread so the scheduler's
    round (bot ticks) is not held up."""
    services.in_background(services.rank_periodic)
