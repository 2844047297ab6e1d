"""The Celery worker of the whole-stack test (tests/system/test_stack.py): the production worker (-P solo, concurrency
1) with one test hook installed before it starts: the bot engine sees fixed candles that make a momentum bot buy, so the
first tick of a new bot trades at once, whatever the simulated market does. Orders still go through the real paper
exchange (price_source "simulated")."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amarktai.settings")

import django

django.setup()

from bots import engine  # noqa: E402
from tests.bots.test_engine import BUY, scaled  # noqa: E402

CANDLES = scaled(BUY, 12000)  # BTC/ZAR around 1.2M, ending in a momentum buy signal
engine.candles_for = lambda *args: CANDLES

from amarktai.celery import app  # noqa: E402

app.worker_main(
    [
        "worker",
        "-P",
        "solo",
        "-c",
        "1",
        "-l",
        "warning",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"stack-{os.getpid()}@%h",
    ]
)
