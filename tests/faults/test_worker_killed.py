"""A Celery worker is killed (SIGKILL) in the middle of a bot tick, inside the transaction that places the order. The
tick is redone by the next worker once the broker hands the unacknowledged task out again: one order, one trade, nothing
lost. Needs PostgreSQL and Redis (CI)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from bots.services import create_bot
from trading.models import Order, Trade

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent


def _worker(env):
    return subprocess.Popen(
        [sys.executable, str(HERE / "hooked_worker.py")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _wait(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


@pytest.mark.django_db(transaction=True)
def test_killed_worker_tick_is_redone_once(user):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (a real broker and concurrent database)")
    from amarktai.celery import app

    bot = create_bot(user, name="Survivor", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    db = connection.settings_dict
    flag = Path(tempfile.mkdtemp()) / "hang.flag"
    flag.touch()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "amarktai.settings",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "HANG_FLAG": str(flag),
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
    }
    # Start from an empty queue so no task of another test interferes.
    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("celery")
    first = _worker(env)
    second = None
    try:
        app.send_task("bots.tick_group", args=["luno", "BTC/ZAR", "1m", [str(bot.pk)]])
        assert _wait(lambda: flag.with_suffix(".hung").exists(), 60), "the worker never reached the order"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert Order.objects.filter(bot=bot).count() == 0  # the killed tick's transaction rolled back

        # The broker hands out an unacknowledged task again once its visibility timeout (3 s here) has passed; a
        # starting worker restores such tasks at once.
        time.sleep(4)
        second = _worker(env)
        assert _wait(lambda: Trade.objects.filter(bot=bot).exists(), 90), "the tick was not redone"
        time.sleep(2)  # a duplicate delivery would show up here
        assert Order.objects.filter(bot=bot).count() == 1
        assert Trade.objects.filter(bot=bot).count() == 1
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
