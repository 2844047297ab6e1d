"""Bot tick throughput: active paper bots over many markets, ticked by 2 Celery workers on Redis.

Starts its own redis-server (Debian's package) on a free port and the Celery workers (concurrency 1 each), creates the
bots, dispatches one round of ticks (one task per market group of <= 250 bots) and waits until every bot has ticked.
Per-tick latency comes from the workers' amarktai_bot_tick_seconds histogram (prometheus multiprocess mode). Uses
DATABASE_URL when set (PostgreSQL recommended: SQLite serialises the writers), else a temp SQLite file.

Sizes (--sizes, BOTSxMARKETS): 1,000 bots on 20 markets (issue 4's figure) and 20,000 bots on 100 markets (issue 17's
target: >= 2,000 ticks/s). A market is (exchange, symbol, timeframe): the platforms' 21 symbols on 1m, then 5m, ...

Before/after in one run: --baseline REF exports that git revision of the code (git archive) and runs the same rounds
with its own two workers, its own Redis database and its own database, migrated by its own code (PostgreSQL:
<name>_baseline on the same server, created afresh; so a schema change shows in the ratio), alternating with the
current code, round by round; the ratio of
each pair is printed (a machine whose speed drifts moves both sides of a pair alike). A baseline round that does not
finish within --round-timeout gives its rate so far; its bots are then paused until the queue has drained.

--profile ticks one round in this process (no Celery) under cProfile and prints the top functions (with --baseline:
for both revisions), e.g. for a commit message.

    python bench/bench_ticks.py [--sizes 1000x20,20000x100] [--rounds 2] [--baseline REF] [--profile]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import BIN, PYTHON, ROOT, bench_env, free_port, result, start, stop

TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h")

SETUP = r"""
import django, sys; django.setup()
from decimal import Decimal
from accounts.models import User
from bots.models import Bot
from trading.platforms import PLATFORMS
n = int(sys.argv[1])
wanted = int(sys.argv[2]) if len(sys.argv) > 2 else 20  # bench_backtest_load.py passes the bot count only
timeframes = sys.argv[3].split(",") if len(sys.argv) > 3 else ["1m"]
markets = [(p.id, s, tf) for tf in timeframes for p in PLATFORMS.values() for s in p.symbols][:wanted]
Bot.objects.filter(user__email__endswith="@bench.local").delete()  # only the benchmark's own bots
emails = [f"tick{i}@bench.local" for i in range(max(n // 5, 1))]
User.objects.bulk_create([User(email=email) for email in emails], ignore_conflicts=True, batch_size=1000)
by_email = dict(User.objects.filter(email__in=emails).values_list("email", "id"))
users = [by_email[email] for email in emails]
bots = []
for i in range(n):
    exchange, symbol, timeframe = markets[i % len(markets)]
    bots.append(Bot(user_id=users[i % len(users)], name=f"bot{i}", exchange=exchange, symbol=symbol,
                    timeframe=timeframe, status="active",
                    strategy=("momentum", "breakout", "mean_reversion", "supertrend")[i % 4],
                    initial_capital=Decimal("1000"), current_capital=Decimal("1000")))
Bot.objects.bulk_create(bots, batch_size=1000)  # 5 bots of 1,000 a user: their buys fit its paper balance
print(len(markets))
"""

ROUND = r"""
import django, sys, time; django.setup()
from django.conf import settings
from django.utils import timezone
import redis
from bots.models import Bot
from bots.tasks import dispatch_ticks
budget = float(sys.argv[1]) if len(sys.argv) > 1 else 300  # bench_backtest_load.py passes none
bench = Bot.objects.filter(user__email__endswith="@bench.local")
bench.update(last_tick_at=None, next_tick_at=None, status="active")  # every bench bot due now
start = timezone.now()
t0 = time.time()
sent = dispatch_ticks()
total = bench.count()
done = 0
while time.time() - t0 < budget:
    done = bench.filter(last_tick_at__gte=start).count()
    if done >= total:
        break
    time.sleep(0.2)
seconds = time.time() - t0
if done < total:
    # Out of time: the queued ticks find their bots paused and skip them; wait until the queue is drained.
    bench.update(status="paused")
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    quiet_since = time.time()
    while time.time() - quiet_since < 3:
        if broker.llen("celery") or broker.hlen("unacked"):
            quiet_since = time.time()
        time.sleep(0.2)
    bench.update(status="active")
print(sent, done, total, round(seconds, 3))
"""

PROFILE = r"""
import cProfile, io, pstats, sys, time; import django; django.setup()
from bots import engine, scheduling
from bots.models import Bot
top = int(sys.argv[1])
bench = Bot.objects.filter(user__email__endswith="@bench.local")

def one_round(profile=None):
    bench.update(last_tick_at=None, next_tick_at=None)  # every bench bot due now (not measured)
    groups = scheduling.due_groups(limit=10**9)
    started = time.perf_counter()
    if profile is not None:
        profile.enable()
    for (exchange, symbol, timeframe), ids in groups.items():
        for s in range(0, len(ids), 250):
            engine.tick_group(exchange, symbol, timeframe, ids[s:s + 250])
    if profile is not None:
        profile.disable()
    return sum(len(ids) for ids in groups.values()) / (time.perf_counter() - started)

one_round()  # warm: caches, candles, connections
profile = cProfile.Profile()
rate = one_round(profile)
if len(sys.argv) > 2:
    profile.dump_stats(sys.argv[2])
out = io.StringIO()
stats = pstats.Stats(profile, stream=out)
stats.sort_stats("cumulative").print_stats(top)
stats.sort_stats("tottime").print_stats(top)
print(out.getvalue().replace(sys.prefix, "<venv>"))
print(f"PROFILE_RATE {rate:.0f}")
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


class Variant:
    """One revision of the code: its tree, its Redis database (broker and cache), its workers and their metrics."""

    def __init__(self, label, tree, base_env, redis_url):
        self.label, self.tree = label, tree
        self.metrics_dir = tempfile.mkdtemp(prefix="amarktai-prom-")
        self.env = dict(base_env, REDIS_URL=redis_url, PROMETHEUS_MULTIPROC_DIR=self.metrics_dir, PYTHONPATH=str(tree))
        self.workers = []

    def migrate(self):
        out = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput"], cwd=self.tree, env=self.env, capture_output=True, text=True
        )
        if out.returncode:
            sys.exit(f"{self.label}: migrate failed:\n{out.stderr[-3000:]}")

    def run(self, script, *args, timeout=None):
        out = subprocess.run(
            [PYTHON, "-c", script, *map(str, args)],
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode:
            sys.exit(f"{self.label}: a bench step failed:\n{out.stderr[-3000:]}")
        return out.stdout

    def start_workers(self, count):
        for i in range(count):
            cmd = [str(BIN / "celery"), "-A", "amarktai", "worker", "-c", "1", "-P", "prefork"]
            cmd += ["-n", f"bench-{self.label}{i}@%h", "-l", "warning", "--without-gossip", "--without-mingle"]
            self.workers.append(start(cmd, self.env))

    def stop_workers(self):
        for worker in self.workers:
            stop(worker)
        self.workers = []

    def reset_metrics(self):
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        os.makedirs(self.metrics_dir)


def export_tree(ref):
    """The code of git revision ``ref`` in a temp directory (nothing else in the repository changes)."""
    tree = tempfile.mkdtemp(prefix="amarktai-baseline-")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    return tree


def own_database(env, label):
    """Environment for a variant with a database of its own, empty, that its own code migrates: a change of the schema
    (an index dropped, a table option) then shows in the ratio instead of helping both sides alike. PostgreSQL: the
    database <name>_<label> on the same server (dropped and created again), SQLite: a file in a temp directory."""
    url = env.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return dict(env, AMARKTAI_VAR_DIR=tempfile.mkdtemp(prefix=f"amarktai-bench-{label}-"))
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_{label}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return dict(env, DATABASE_URL=urlunsplit(parts._replace(path=f"/{name}")))


def parse_sizes(text):
    sizes = []
    for part in text.split(","):
        bots, markets = part.lower().split("x")
        sizes.append((int(bots), int(markets)))
    return sizes


def profile(variants, args, bots, markets):
    rates = {}
    for variant in variants:
        dump = [f"{args.profile_dump}.{variant.label}"] if args.profile_dump else []
        out = variant.run(PROFILE, args.profile_top, *dump)
        lines = out.strip().splitlines()
        rates[variant.label] = float(lines[-1].split()[1])
        print(f"\n--- cProfile, {variant.label}: {bots} bots on {markets} markets, one round in one process ---")
        print("\n".join(lines[:-1]))
    summary = ", ".join(f"{label} {rate:.0f} ticks/s" for label, rate in rates.items())
    print(f"in-process round (cProfile on): {summary}")
    if len(rates) == 2:
        print(f"ratio current/baseline: {rates['current'] / rates['baseline']:.1f}x")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000x20,20000x100", help="BOTSxMARKETS, comma separated")
    parser.add_argument("--bots", type=int, help="one size: this many bots (with --markets)")
    parser.add_argument("--markets", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", help="git revision to compare with, round by round (e.g. origin/main, HEAD~3)")
    parser.add_argument("--round-timeout", type=float, default=300, help="seconds a round may take")
    parser.add_argument("--profile", action="store_true", help="cProfile one in-process round instead of Celery")
    parser.add_argument("--profile-top", type=int, default=20)
    parser.add_argument("--profile-dump", help="also write the pstats to PATH.<current|baseline>")
    args = parser.parse_args()
    sizes = [(args.bots, args.markets)] if args.bots else parse_sizes(args.sizes)
    if not shutil.which("redis-server"):
        sys.exit("redis-server is needed: apt-get install redis-server")
    redis_port = free_port()
    redis_proc = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    # The workers keep their database connections, as deploy/amarktai.env.example runs them (DB_CONN_MAX_AGE=60): with
    # 0 every group task opened a new PostgreSQL connection (~20 ms on this machine, 100 tasks a round at 20,000 bots).
    env = bench_env(
        DJANGO_SETTINGS_MODULE="amarktai.settings",
        LOG_LEVEL="WARNING",
        DB_CONN_MAX_AGE=os.environ.get("DB_CONN_MAX_AGE", "60"),
    )
    variants = [Variant("current", ROOT, env, f"redis://127.0.0.1:{redis_port}/0")]
    if args.baseline:
        baseline_env = own_database(env, "baseline")
        variants.insert(
            0, Variant("baseline", export_tree(args.baseline), baseline_env, f"redis://127.0.0.1:{redis_port}/1")
        )
    current = variants[-1]
    database = "PostgreSQL" if env.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    try:
        time.sleep(0.5)
        for variant in variants:
            variant.migrate()
        if not args.profile:
            for variant in variants:
                variant.start_workers(args.workers)
            time.sleep(6)
        for bots, wanted in sizes:
            for variant in variants:  # each revision its own database (own_database), the same bots
                markets = variant.run(SETUP, bots, wanted, ",".join(TIMEFRAMES)).strip().splitlines()[-1]
            if args.profile:
                profile(variants, args, bots, markets)
                continue
            print(f"\n{bots} bots over {markets} markets, {args.workers} Celery workers on Redis, {database}")
            best, ratios = {}, []
            for variant in variants:
                variant.reset_metrics()
            for round_no in range(args.rounds):
                rates = {}
                for variant in variants:
                    out = variant.run(ROUND, args.round_timeout).strip().splitlines()[-1]
                    sent, done, total, seconds = out.split()
                    rate = int(done) / float(seconds)
                    rates[variant.label] = rate
                    best[variant.label] = max(best.get(variant.label, 0), rate)
                    finished = "" if int(done) == int(total) else " (out of time)"
                    print(
                        f"round {round_no + 1} {variant.label}: {sent} group tasks, {done}/{total} bots ticked in "
                        f"{seconds} s ({rate:.0f} ticks/s){finished}"
                    )
                if len(rates) == 2:
                    ratios.append(rates["current"] / rates["baseline"])
                    print(f"round {round_no + 1} ratio current/baseline: {ratios[-1]:.1f}x")
            for variant in variants:
                count, p50, p99 = histogram_quantiles(variant.metrics_dir)
                print(
                    f"{variant.label} tick latency over {int(count)} ticks: p50 <= {p50:.0f} ms, p99 <= {p99:.0f} ms "
                    "(histogram bucket bounds; a batched quiet bot's tick lasts until its group's UPDATE commits)"
                )
            target = 2000 if bots >= 20000 else None
            rate = best["current"]
            result(
                f"bot ticks/s ({bots:,} bots, {markets} markets, {args.workers} workers)",
                round(rate),
                "ticks/s",
                ">= 2,000" if target else f"{bots} bots < 60 s",
                rate >= target if target else bots / rate < 60,
                f"best of {args.rounds} rounds; {database}"
                + (f"; {statistics.median(ratios):.1f}x the baseline {args.baseline}" if ratios else ""),
            )
            if args.baseline:
                result(
                    f"bot ticks/s ({bots:,} bots) baseline {args.baseline}",
                    round(best["baseline"]),
                    "ticks/s",
                    note="same run, alternating rounds",
                )
            count, p50, p99 = histogram_quantiles(current.metrics_dir)
            result(
                f"bot tick p99 latency ({bots:,} bots)", round(p99), "ms", "< 200 ms", p99 < 200, f"p50 <= {p50:.0f} ms"
            )
    finally:
        for variant in variants:
            variant.stop_workers()
        redis_proc.terminate()


if __name__ == "__main__":
    main()
