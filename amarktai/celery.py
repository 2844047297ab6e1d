"""Celery application. With REDIS_URL unset, tasks run eagerly in the calling process (no broker needed)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amarktai.settings")

app = Celery("amarktai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
