"""Celery tasks of the research app, routed to their own queue (``research``, CELERY_TASK_ROUTES) so a long backtest
never delays a bot's tick: run a worker with ``-Q research``."""

from celery import shared_task
from django.db import close_old_connections

from research import services


@shared_task(name="research.run_backtest", acks_late=True, ignore_result=True)
def run_backtest(backtest_id: str) -> str:
    close_old_connections()
    try:
        return services.run(backtest_id)
    finally:
        close_old_connections()
