"""Production shape: a paper trade's notification is sent by a real Celery worker (Redis broker, PostgreSQL), not by
the process that placed the trade. Needs PostgreSQL and Redis (CI's second run)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from notifications.models import Delivery
from tests.notifications.conftest import wait_for
from tests.notifications.receiver import WebhookReceiver
from tests.servers import ROOT

pytestmark = pytest.mark.slow


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_delivers_the_webhook(auth_client, user):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (a real broker and a database the worker shares)")
    from amarktai.celery import app

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "amarktai.settings",
        "LOG_LEVEL": "WARNING",
        "NOTIFY_ALLOW_PRIVATE_TARGETS": "1",  # the receiver listens on 127.0.0.1
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
    }
    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("celery")  # no task of another test
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "amarktai", "worker", "-P", "solo", "-l", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with WebhookReceiver() as receiver:
            created = auth_client.post(
                "/api/notifications/channels", {"kind": "webhook", "target": receiver.url}, format="json"
            ).json()
            receiver.secret = created["secret"]
            from django.test import override_settings

            with override_settings(CELERY_TASK_ALWAYS_EAGER=False):  # as in production: .delay goes to the broker
                order = {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": 0.001}
                assert auth_client.post("/api/orders", order, format="json").status_code == 201
            documents = wait_for(receiver.documents, timeout=60)
        assert documents[0]["event"] == "trade_executed"
        row = Delivery.objects.get(channel_id=created["channel"]["id"])
        assert row.status == "delivered" and row.attempts == 1 and row.response_code == 204
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)
