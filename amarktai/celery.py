"""Celery application. With REDIS_URL unset, tasks run eagerly in the calling process (no broker needed)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amarktai.settings")

app = Celery("amarktai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Prometheus multi-process mode (PROMETHEUS_MULTIPROC_DIR in the environment before this module is imported, so every
# pool process writes its metrics to files there; realtime/metrics.py). A pool process or the worker that exits drops
# its live gauges from the shared directory; /metrics sweeps the files of processes killed before they could.
@signals.worker_process_shutdown.connect
def _metrics_pool_process_dead(**kwargs):
    from django.conf import settings

    from realtime.metrics import mark_process_dead

    mark_process_dead(os.getpid(), settings.PROMETHEUS_MULTIPROC_DIR)


@signals.worker_shutdown.connect
def _metrics_worker_dead(**kwargs):
    _metrics_pool_process_dead()
