"""Bot tick throughput: 1,000 active paper bots over 20 markets, ticked by 2 Celery workers on Redis.

Starts its own redis-server (Debian's package) on a free port and two `celery worker` processes (concurrency 1 each),
creates the bots, dispatches one round of ticks (one task per market group of <= 250 bots) and waits until every bot has
ticked. Per-tick latency comes from the workers' amarktai_bot_tick_seconds histogram (prometheus multiprocess mode).
Uses DATABASE_URL when set (PostgreSQL recommended: SQLite serialises the writers), else a temp SQLite file.

Targets (issue 4): all 1,000 bots ticked within one minute; p99 tick latency under 200 ms.

    python bench/bench_ticks.py [--bots 1000] [--rounds 2]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import BIN, PYTHON, ROOT, bench_env, free_port, manage, result, start, stop

SETUP = r"""
import django, sys; django.setup()
from decimal import Decimal
from accounts.models import User
from bots.models import Bot
from trading.platforms import PLATFORMS
markets = [(p.id, s) for p in PLATFORMS.values() for s in p.symbols][:20]
n = int(sys.argv[1])
Bot.objects.filter(user__email__endswith="@bench.local").delete()  # only the benchmark's own bots
users = [User.objects.get_or_create(email=f"tick{i}@bench.local")[0] for i in range(max(n // 5, 1))]
bots = []
for i in range(n):
    exchange, symbol = markets[i % len(markets)]
    bots.append(Bot(user=users[i % len(users)], name=f"bot{i}", exchange=exchange, symbol=symbol, status="active",
                    strategy=("momentum", "breakout", "mean_reversion", "supertrend")[i % 4],
                    initial_capital=Decimal("10000"), current_capital=Decimal("10000")))
Bot.objects.bulk_create(bots, batch_size=500)
print(len(markets))
"""

ROUND = r"""
import django, time; django.setup()
from django.utils import timezone
from bots.models import Bot
from bots.tasks import dispatch_ticks
bench = Bot.objects.filter(user__email__endswith="@bench.local")
bench.update(last_tick_at=None, next_tick_at=None)  # every bench bot due now
start = timezone.now()
t0 = time.time()
sent = dispatch_ticks()
total = bench.count()
while bench.filter(last_tick_at__gte=start).count() < total and time.time() - t0 < 300:
    time.sleep(0.2)
done = bench.filter(last_tick_at__gte=start).count()
print(sent, done, total, round(time.time() - t0, 3))
"""


def histogram_quantiles(directory, name="amarktai_bot_tick_seconds"):
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    buckets, count = [], 0
    for metric in registry.collect():
        if metric.name != name:
            continue
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                count += sample.value
    buckets.sort()

    def quantile(q):
        for bound, cumulative in buckets:
            if cumulative >= q * count:
                return bound * 1000
        return float("inf")

    return count, quantile(0.5), quantile(0.99)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        sys.exit("redis-server is needed: apt-get install redis-server")
    redis_port = free_port()
    redis_proc = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    metrics_dir = tempfile.mkdtemp(prefix="amarktai-prom-")
    env = bench_env(
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        PROMETHEUS_MULTIPROC_DIR=metrics_dir,
        DJANGO_SETTINGS_MODULE="amarktai.settings",
        LOG_LEVEL="WARNING",
    )
    workers = []
    try:
        time.sleep(0.5)
        manage(env, "migrate", "--noinput")
        markets = (
            subprocess.run(
                [PYTHON, "-c", SETUP, str(args.bots)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for i in range(2):
            workers.append(
                start(
                    [
                        str(BIN / "celery"),
                        "-A",
                        "amarktai",
                        "worker",
                        "-c",
                        "1",
                        "-P",
                        "prefork",
                        "-n",
                        f"bench{i}@%h",
                        "-l",
                        "warning",
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    env,
                )
            )
        time.sleep(6)
        database = "PostgreSQL" if env.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
        print(f"{args.bots} bots over {markets} markets, 2 Celery workers on Redis, {database}")
        durations = []
        for round_no in range(args.rounds):
            out = (
                subprocess.run([PYTHON, "-c", ROUND], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
                .stdout.strip()
                .splitlines()[-1]
            )
            sent, done, total, seconds = out.split()
            durations.append(float(seconds))
            print(
                f"round {round_no + 1}: {sent} group tasks, {done}/{total} bots ticked in {seconds} s "
                f"({int(done) / float(seconds):.0f} ticks/s)"
            )
        count, p50, p99 = histogram_quantiles(metrics_dir)
        print(
            f"tick latency over {int(count)} ticks: p50 <= {p50:.0f} ms, p99 <= {p99:.0f} ms (histogram bucket bounds)"
        )
        best = min(durations)
        result(
            "bot ticks/s (1,000 bots, 2 workers)",
            round(args.bots / best),
            "ticks/s",
            "1000 bots < 60 s",
            best < 60,
            f"round time {best:.1f} s; {database}",
        )
        result("bot tick p99 latency", round(p99), "ms", "< 200 ms", p99 < 200, f"p50 <= {p50:.0f} ms")
    finally:
        for worker in workers:
            stop(worker)
        redis_proc.terminate()


if __name__ == "__main__":
    main()
