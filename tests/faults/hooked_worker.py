"""A real Celery worker for the worker-kill test, with two test hooks installed before it starts:
- the bot engine sees fixed candles that make a momentum bot buy;
- the first order sent after HANG_FLAG appears hangs (the worker is killed there, mid-tick, inside its transaction)."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amarktai.settings")

import django

django.setup()

from bots import engine  # noqa: E402
from tests.bots.test_engine import BUY, scaled  # noqa: E402
from trading import services  # noqa: E402

CANDLES = scaled(BUY, 12000)
engine.candles_for = lambda *args: CANDLES
flag = Path(os.environ["HANG_FLAG"])
_send = services._send


def hanging_send(*args, **kwargs):
    if flag.exists():
        flag.unlink()
        flag.with_suffix(".hung").touch()
        time.sleep(600)
    return _send(*args, **kwargs)


services._send = hanging_send

from amarktai.celery import app  # noqa: E402

app.worker_main(
    ["worker", "-P", "solo", "-l", "warning", "--without-gossip", "--without-mingle", "-n", f"hooked-{os.getpid()}@%h"]
)
