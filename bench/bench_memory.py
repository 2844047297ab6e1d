"""Memory per active bot: the growth of one worker process's resident memory when it takes on 1,000 more active paper
bots (created, dispatched and ticked in process, SQLite temp DB), divided by the bot count.
Target (issue 17): < 10 KB per bot at 100,000 bots (the default: about 3 minutes; --bots 1000 for a quick look).

    python bench/bench_memory.py [--bots 100000]
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import PYTHON, ROOT, bench_env, manage, result

MEASURE = r"""
import django, gc, resource, sys; django.setup()
from decimal import Decimal

def rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20

from accounts.models import User
from bots import engine, scheduling
from bots.models import Bot
from trading.platforms import PLATFORMS
markets = [(p.id, s) for p in PLATFORMS.values() for s in p.symbols][:20]

def add_bots(n, tag):
    users = [User.objects.get_or_create(email=f"mem{tag}{i}@bench.local")[0] for i in range(max(n // 5, 1))]
    Bot.objects.bulk_create([Bot(user=users[i % len(users)], name=f"m{tag}{i}", exchange=markets[i % 20][0],
                                 symbol=markets[i % 20][1], status="active", strategy="momentum",
                                 initial_capital=Decimal("10000"), current_capital=Decimal("10000")) for i in range(n)])

def tick_all():
    Bot.objects.update(last_tick_at=None, next_tick_at=None)
    for (exchange, symbol, timeframe), ids in scheduling.due_groups(limit=100000).items():
        engine.tick_group(exchange, symbol, timeframe, ids)

n = int(sys.argv[1])
add_bots(50, "warm")          # warm caches, imports and the simulated feed for every market
tick_all(); tick_all()
gc.collect()
before = rss_mb()
add_bots(n, "x")
tick_all(); tick_all()
gc.collect()
after = rss_mb()
print(f"{before:.1f} {after:.1f} {Bot.objects.count()}")
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bots", type=int, default=100_000, help="active bots to add (issue 17's scale)")
    args = parser.parse_args()
    env = bench_env(DJANGO_SETTINGS_MODULE="amarktai.settings", LOG_LEVEL="ERROR")
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    manage(env, "migrate", "--noinput")
    out = (
        subprocess.run(
            [PYTHON, "-c", MEASURE, str(args.bots)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    before, after, total = out.split()
    per_bot_kb = (float(after) - float(before)) * 1024 / args.bots
    print(
        f"worker RSS {float(before):.1f} MB -> {float(after):.1f} MB after taking on {args.bots} more active bots "
        f"({total} in all): {per_bot_kb:.1f} KB per bot"
    )
    result(
        f"memory per active bot ({args.bots} bots)",
        round(per_bot_kb, 1),
        "KB",
        "< 10 KB",
        per_bot_kb < 10,
        f"RSS {float(before):.0f} -> {float(after):.0f} MB for {args.bots} bots",
    )


if __name__ == "__main__":
    main()
