"""Separate worker processes share the rate limiter's buckets in Redis: together they never exceed one key's budget,
and a 429 answered to one process backs the other off. Real processes (tests/fake_exchange/worker.py, the real ccxt
adapter) against the fake Binance, which counts the calls per key as they arrive.

Needs REDIS_URL (CI's PostgreSQL + Redis pass): without it every process has its own in-process buckets by design
(the embedded default runs one process), so these are skipped; test_ratelimit.py covers the embedded limiter.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings

from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.servers import ROOT
from trading.exchanges import ratelimit
from trading.exchanges.ccxt_adapter import CcxtExchange

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
ACCOUNT = "/api/v3/account"
RATE, BURST, COST = 40.0, 8.0, 4.0  # binance's /api/v3/account costs 4 in ccxt: 10 calls a second, a burst of 2


@pytest.fixture(autouse=True)
def _needs_redis():
    if not settings.REDIS_URL:
        pytest.skip("processes share buckets only through Redis (REDIS_URL); the embedded limiter is one process's")
    ratelimit.reset()
    yield
    ratelimit.reset()


def _workers(url, n, seconds, start_at, call="balance", extra_env=None):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "amarktai.settings_test",
        "EXCHANGE_RATE_LIMITS": f"binance={RATE}:{BURST}",
        "LOG_LEVEL": "ERROR",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "tests.fake_exchange.worker", "--url", url, "--seconds", str(seconds)]
    command += ["--start-at", str(start_at), "--call", call]
    return [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]


def _results(procs, timeout=90):
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _max_in_window(times, width):
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_two_worker_processes_share_one_bucket(binance_via_fake):
    seconds = 4.0
    start_at = time.time() + 6  # both processes set up Django and load the markets first
    results = _results(_workers(binance_via_fake.url, 2, seconds, start_at))
    arrivals = sorted(binance_via_fake.calls(key=DEFAULT_KEY, path=ACCOUNT))
    assert len(arrivals) == sum(r["calls"] for r in results)
    assert all(r["calls"] > 0 and r["errors"] == 0 for r in results)  # both really took turns
    span = arrivals[-1] - arrivals[0]
    budget = (BURST + RATE * (span + 0.05)) / COST
    assert len(arrivals) <= budget + 1, (len(arrivals), budget)
    # in any one second: at most the burst plus a second's refill (50 ms slack for the network)
    assert _max_in_window(arrivals, 1.0) <= (BURST + RATE * 1.05) / COST + 1
    # and the budget was used: one process alone would have made as many calls as both together
    assert len(arrivals) >= 0.7 * (BURST + RATE * seconds) / COST
    # without the shared limiter the two would have made about twice the budget: each alone fills it
    assert max(r["calls"] for r in results) < 0.8 * len(arrivals)


def test_a_429_in_one_process_backs_off_the_other(binance_via_fake, settings):
    """This process gets the 429 (Retry-After: 2); a worker process that starts right after finds the key and the IP
    backing off and sends nothing until the 2 s have passed."""
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, max_retries=0)
    ex.load_markets()
    binance_via_fake.fail_next("429", path=ACCOUNT, retry_after=2)
    procs = _workers(binance_via_fake.url, 1, 1.0, 0, extra_env={"EXCHANGE_RATE_WAIT_SECONDS": "10"})
    time.sleep(0.3)  # let the worker import Django; its markets load waits on the IP's back-off too
    from amarktai.errors import RateLimited

    with pytest.raises(RateLimited):
        ex.fetch_balance()
    hit = time.time()
    results = _results(procs)
    later = [t for t in binance_via_fake.calls() if t > hit]
    assert results[0]["calls"] > 0
    assert later and min(later) >= hit + 1.9  # nothing reached the exchange during the back-off
