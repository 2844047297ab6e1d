"""/metrics in production covers every process of the host (docs/operations.md, "Metrics"): gunicorn from
deploy/gunicorn.conf.py with two workers, plus separate processes standing in for a Celery worker (bot ticks, orders)
and a Daphne process (open WebSocket/SSE connections), all with one PROMETHEUS_MULTIPROC_DIR.

- repeated scrapes through gunicorn agree, whichever worker answers, and include the other processes' counters and
  gauges;
- a process that marks itself dead (Celery's shutdown signal handler) stops counting in the connection gauges but keeps
  its counters; one killed outright (SIGKILL) is swept at the next scrape;
- gunicorn's child_exit hook drops the live gauges of a worker that exits."""

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import servers

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# Stands in for a Celery worker process: records ticks and orders and holds two WebSocket connections; on a line on
# stdin it runs amarktai/celery.py's worker_process_shutdown handler (and stays alive), on the next it exits.
RECORDER = """
import sys
from realtime.metrics import BOT_TICKS, ORDERS, WS_CONNECTIONS
BOT_TICKS.labels("ok").inc(7)
BOT_TICKS.labels("error").inc(2)
ORDERS.labels("paper", "buy", "filled").inc(3)
WS_CONNECTIONS.inc(2)
print("ready", flush=True)
sys.stdin.readline()
from amarktai.celery import _metrics_pool_process_dead
_metrics_pool_process_dead()
print("dead", flush=True)
sys.stdin.readline()
"""

# Stands in for a Daphne process killed without clean-up: one open SSE stream, then it waits to be killed.
SSE_HOLDER = """
import sys
from realtime.metrics import SSE_CONNECTIONS
SSE_CONNECTIONS.inc()
print("ready", flush=True)
sys.stdin.readline()
"""


def _env(workdir, metrics_dir):
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "amarktai.settings",
            "AMARKTAI_VAR_DIR": str(workdir / "var"),
            "DATABASE_URL": f"sqlite:///{workdir}/server.sqlite3",
            "DEBUG": "0",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
    )
    env.pop("METRICS_TOKEN", None)
    env.pop("prometheus_multiproc_dir", None)
    return env


def _start_python(code, env, stderr):
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    return proc


def _expect(proc, word, log):
    line = proc.stdout.readline().strip()  # the child prints at once or dies; the test's timeout bounds a hang
    if line != word:
        log.seek(0)
        raise AssertionError(f"expected {word!r} from the helper process, got {line!r}: {log.read()[-3000:]}")


def _wait_until_up(proc, url, log, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError("gunicorn exited: " + log.read()[-3000:])
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                log.seek(0)
                raise AssertionError("gunicorn did not come up: " + log.read()[-3000:]) from None
            time.sleep(0.2)


def _scrape(base):
    """One scrape on a fresh connection (so the kernel may hand it to either worker): {(name, labels): value}."""
    with httpx.Client(timeout=10) as client:
        response = client.get(f"{base}/metrics")
    assert response.status_code == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _worker_pids(master_pid):
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def _wait_for(condition, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def test_one_scrape_sees_every_process_of_the_host():
    workdir = Path(tempfile.mkdtemp(prefix="amarktai-metrics-"))
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir()
    env = _env(workdir, metrics_dir)
    log = open(workdir / "processes.log", "w+")
    port = servers.free_port()
    base = f"http://127.0.0.1:{port}"
    processes = []
    try:
        gunicorn = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "deploy" / "gunicorn.conf.py"),
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "5",
                "amarktai.wsgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(gunicorn)
        recorder = _start_python(RECORDER, env, log)
        processes.append(recorder)
        holder = _start_python(SSE_HOLDER, env, log)
        processes.append(holder)
        _expect(recorder, "ready", log)
        _expect(holder, "ready", log)
        _wait_until_up(gunicorn, f"{base}/api/system/ping", log)
        _wait_for(lambda: len(_worker_pids(gunicorn.pid)) == 2, "gunicorn's two workers")

        # Repeated scrapes agree, and carry the other processes' figures.
        scrapes = [_scrape(base) for _ in range(8)]
        for number, samples in enumerate(scrapes, 1):
            seen = (
                _value(samples, "amarktai_bot_ticks_total", outcome="ok"),
                _value(samples, "amarktai_bot_ticks_total", outcome="error"),
                _value(samples, "amarktai_orders_total", mode="paper", side="buy", status="filled"),
                _value(samples, "amarktai_websocket_connections"),
                _value(samples, "amarktai_sse_connections"),
            )
            assert seen == (7, 2, 3, 2, 1), f"scrape {number}: ticks ok/error, orders, websockets, SSE = {seen}"
        # The request counter is the sum over both workers: it only grows, by at least the scrape before (per-worker
        # registries made it jump back and forth between the workers' own counts).
        served = [_value(s, "amarktai_http_requests_total", method="GET", status="200") for s in scrapes]
        assert all(b - a >= 1 for a, b in itertools.pairwise(served)), served

        # Celery's shutdown handler: the process's sockets stop counting, its counters stay.
        recorder.stdin.write("\n")
        recorder.stdin.flush()
        _expect(recorder, "dead", log)
        samples = _scrape(base)
        assert _value(samples, "amarktai_websocket_connections") == 0
        assert _value(samples, "amarktai_bot_ticks_total", outcome="ok") == 7
        assert _value(samples, "amarktai_orders_total", mode="paper", side="buy", status="filled") == 3

        # A process killed outright: its open stream is swept at the next scrape.
        holder.kill()
        holder.wait(10)
        assert _value(_scrape(base), "amarktai_sse_connections") == 0

        # gunicorn's child_exit hook: a worker that dies leaves no live-gauge file behind.
        worker = _worker_pids(gunicorn.pid)[0]
        live_file = metrics_dir / f"gauge_livesum_{worker}.db"
        assert live_file.exists(), sorted(p.name for p in metrics_dir.iterdir())
        os.kill(worker, signal.SIGKILL)
        _wait_for(lambda: not live_file.exists(), f"child_exit to drop {live_file.name}")
        # ... and its requests still count.
        assert _value(_scrape(base), "amarktai_http_requests_total", method="GET", status="200") >= served[-1] + 2
    finally:
        for proc in reversed(processes):
            servers.stop(proc)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
