"""REST calls from 4 worker processes on one exchange key never exceed the key's budget (issue 13).

    python bench/bench_ratelimit.py [--seconds 60] [--quick] [--workers 4] [--redis-url redis://127.0.0.1:6379/15]

A fake Binance (tests/fake_exchange) runs in this process and records every request's arrival time and API key. N
worker processes (tests/fake_exchange/worker.py: the real ccxt adapter, as Celery workers' bot ticks use it) call
fetch_balance (GET /api/v3/account: signed, ccxt weight 4) with one key as fast as they are let, for the span. The
buckets are ccxt's own sizes for Binance (rateLimit 50 ms: 20 weight units a second, a burst of
EXCHANGE_RATE_BURST_SECONDS of them), so the key's budget over a span T is (burst + 20 T) / 4 calls.

Two rounds in one run: "shared" (REDIS_URL set: the buckets in Redis, as in production) must stay within the budget
over the whole span and in every 1 s and 10 s window; "per-process" (no REDIS_URL: each process its own buckets, what
the platform did before) shows what the key would have received without the shared limiter. Prints both, and their
ratio. Needs a Redis server (REDIS_URL, --redis-url, or a local one on 127.0.0.1:6379, db 15).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import result  # noqa: E402

KEY = "fake-api-key-0001"
COST = 4.0  # ccxt's weight of binance GET /api/v3/account
RATE_LIMIT_MS = 50  # ccxt's binance.rateLimit


def _redis_url(explicit):
    import redis

    for url in (explicit, os.environ.get("REDIS_URL"), "redis://127.0.0.1:6379/15"):
        if not url:
            continue
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            return url
        except redis.RedisError:
            continue
    return None


def _clear(url):
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match="amk:rl:*", count=500))
    if keys:
        client.delete(*keys)


def _max_in_window(times, width):
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def run_round(fake, workers, seconds, redis_url, var_dir):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "amarktai.settings",
        "AMARKTAI_VAR_DIR": var_dir,  # one SECRET_KEY for every worker: the key's bucket id is an HMAC under it
        "DATABASE_URL": f"sqlite:///{var_dir}/bench.sqlite3",
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("EXCHANGE_RATE_LIMITS", None)
    env.pop("EXCHANGE_IP_RATE_LIMITS", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
        _clear(redis_url)
    else:
        env.pop("REDIS_URL", None)
    since = time.time()
    start_at = since + 8  # every worker has set Django up and loaded the markets by then
    command = [sys.executable, "-m", "tests.fake_exchange.worker", "--url", fake.url, "--seconds", str(seconds)]
    command += ["--start-at", str(start_at), "--call", "balance"]
    procs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    outs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError(f"worker failed: {stderr[-2000:]}")
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    arrivals = sorted(fake.calls(key=KEY, since=since, path="/api/v3/account"))
    return arrivals, outs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="a 10 s span (and a 5 s per-process round)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    seconds = 10.0 if args.quick else args.seconds
    redis_url = _redis_url(args.redis_url)
    name = f"rate limit: {args.workers} workers, one key, {seconds:.0f} s: calls / budget"
    if redis_url is None:
        print("no Redis server reachable (REDIS_URL, --redis-url or 127.0.0.1:6379): the shared buckets need one")
        result(name, "-", "x budget", "<= 1.0", None, "needs Redis")
        return

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amarktai.settings")
    os.environ.pop("REDIS_URL", None)  # this process only serves the fake exchange
    var_dir = tempfile.mkdtemp(prefix="amarktai-bench-")
    os.environ["AMARKTAI_VAR_DIR"] = var_dir
    import django

    django.setup()
    from django.conf import settings

    from tests.fake_exchange.server import FakeBinance

    rate = 1000.0 / RATE_LIMIT_MS
    burst = max(1.0, rate * float(settings.EXCHANGE_RATE_BURST_SECONDS))

    def budget(span):
        return (burst + rate * span) / COST

    print(f"binance key bucket: {rate:g} weight/s, burst {burst:g}; GET /api/v3/account weighs {COST:g}")
    print("(absolute figures come from a loaded machine: 2 cores shared with other jobs)")
    with FakeBinance() as fake:
        arrivals, outs = run_round(fake, args.workers, seconds, redis_url, var_dir)
        span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else seconds
        allowed = budget(span)
        worst_1s, worst_10s = _max_in_window(arrivals, 1.0), _max_in_window(arrivals, 10.0)
        ok = len(arrivals) <= allowed + 1 and worst_1s <= budget(1.0) + 1 and worst_10s <= budget(min(10.0, span)) + 1
        print(f"\nshared (Redis buckets): {len(arrivals)} calls with the key in {span:.1f} s (budget {allowed:.1f})")
        print(f"  per worker: {[o['calls'] for o in outs]}  refused (RateLimited): {[o['rate_limited'] for o in outs]}")
        print(f"  busiest 1 s window: {worst_1s} calls (budget {budget(1.0):.1f})")
        print(f"  busiest 10 s window: {worst_10s} calls (budget {budget(min(10.0, span)):.1f})")
        print(f"  use of the budget: {len(arrivals) / allowed:.1%}   {'WITHIN' if ok else 'EXCEEDED'}")

        before_seconds = min(seconds, 5.0 if args.quick else 10.0)
        before, before_outs = run_round(fake, args.workers, before_seconds, None, var_dir)
        before_span = before[-1] - before[0] if len(before) > 1 else before_seconds
        ratio = len(before) / budget(before_span)
        print(f"\nper-process buckets (before): {len(before)} calls in {before_span:.1f} s")
        print(f"  per worker: {[o['calls'] for o in before_outs]}  = {ratio:.2f} x the key's budget")

    result(name, round(len(arrivals) / allowed, 3), "x budget", "<= 1.0", ok, f"{len(arrivals)} calls")
    result(
        f"rate limit: busiest 1 s window, {args.workers} workers",
        worst_1s,
        "calls",
        f"<= {budget(1.0):.1f}",
        worst_1s <= budget(1.0) + 1,
    )
    result(
        f"rate limit before (per-process buckets), {args.workers} workers: calls / budget",
        round(ratio, 2),
        "x budget",
        "",
        None,
        "what the key got without the shared limiter",
    )


if __name__ == "__main__":
    main()
