"""API latency as the data grows (issue 17, "flat latency"): p50/p99 of the hot reads at 1k, 100k and 1M trades.

For each size the database is emptied and filled by ``manage.py seed_scale`` in the issue's proportions (1 user per
100 trades, 1 bot per 10: 10,000 users, 100,000 bots at 1M trades); the first user owns ``--heavy`` of the trades, and
their reads are measured: GET /api/trades?limit=50 (first page, a deep page by offset and the same page by cursor),
/api/metrics, /api/bots, /api/wallet/balances, and an admin's /api/admin/users?limit=50 and /api/admin/bots?limit=50.
One client, one request at a time (latency, not throughput), against gunicorn (2 sync workers).

Targets at 1M trades: p99 < 25 ms for the list pages, < 50 ms for /api/metrics. Use PostgreSQL for figures that mean
anything (DATABASE_URL=postgres://...: the database is flushed!); without it a temporary SQLite file is used.

    python bench/bench_latency.py [--sizes 1000,100000] [--requests 200]
    python bench/bench_latency.py --sizes 1000,100000,1000000    # the full run: seeding 1M takes several minutes
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import BIN, PYTHON, ROOT, bench_env, free_port, manage, result, start, stop, wait_http

SETUP = r"""
import json, django; django.setup()
from accounts.models import User
from accounts.services import issue_tokens
from amarktai import keyset
from trading.models import Trade
from trading.selectors import filtered_trades
heavy = User.objects.filter(email__startswith="scale-", email__endswith="-0@example.com").order_by("-created_at")[0]
admin, _ = User.objects.get_or_create(email="bench-admin@example.com", defaults={"is_admin": True})
count = Trade.objects.filter(user=heavy).count()
depth = max(0, count // 2 - 1)
row = filtered_trades(heavy)[depth] if count else None
print(json.dumps({
    "token": issue_tokens(heavy)["token"],
    "admin_token": issue_tokens(admin)["token"],
    "trades": count,
    "offset": depth + 1,
    "cursor": keyset.encode(row.created_at, row.pk) if row else "",
}))
"""

LISTS = "list page"


def endpoints(info):
    return [
        ("GET /api/trades?limit=50 (first page)", "/api/trades?limit=50", "token", LISTS),
        (
            f"GET /api/trades deep page (offset {info['offset']})",
            f"/api/trades?limit=50&offset={info['offset']}",
            "token",
            None,  # for comparison: offset reads and drops every earlier row
        ),
        ("GET /api/trades deep page (cursor)", f"/api/trades?limit=50&cursor={info['cursor']}", "token", LISTS),
        ("GET /api/metrics", "/api/metrics", "token", "metrics"),
        ("GET /api/bots", "/api/bots", "token", LISTS),
        ("GET /api/wallet/balances", "/api/wallet/balances", "token", LISTS),
        ("GET /api/admin/users?limit=50", "/api/admin/users?limit=50", "admin_token", LISTS),
        ("GET /api/admin/bots?limit=50", "/api/admin/bots?limit=50", "admin_token", LISTS),
    ]


def measure(port, path, token, requests):
    """Per-request latency in ms (one keep-alive-less client, requests one after another)."""
    out, errors = [], []
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(requests + 10):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        conn.close()
        if response.status != 200:
            errors.append(response.status)
            if len(errors) > 5:
                raise RuntimeError(f"{path}: HTTP {errors}")
            continue
        if i >= 10:  # the first ten warm the caches and connections
            out.append(elapsed)
    if errors:
        print(f"  {path}: {len(errors)} failed request(s) {errors} (see the server log)")
    return out


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def fresh_database(env, first):
    """An empty, migrated database: a new SQLite file, or the PostgreSQL one flushed."""
    if "DATABASE_URL" not in os.environ:
        env["AMARKTAI_VAR_DIR"] = tempfile.mkdtemp(prefix="amarktai-bench-")
        manage(env, "migrate", "--noinput")
        return
    if first:
        manage(env, "migrate", "--noinput")
    manage(env, "flush", "--noinput")


def seed(env, first, size, heavy):
    """A fresh database holding ``size`` trades in the issue's proportions (1 user per 100 trades, 1 bot per 10)."""
    fresh_database(env, first)
    started = time.monotonic()
    users, bots = max(1, size // 100), max(1, size // 10)
    command = ["seed_scale", "--users", str(users), "--bots", str(bots), "--trades", str(size)]
    subprocess.run([PYTHON, "manage.py", *command, "--heavy", str(heavy), "--seed", "1"], cwd=ROOT, env=env, check=True)
    print(f"seeded {size} trades in {time.monotonic() - started:.0f} s", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--sizes", default="1000,100000", help="comma separated trade counts (1000000 for the full run)"
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint and size")
    parser.add_argument("--heavy", type=float, default=0.2, help="share of the trades owned by the measured user")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the data already in DATABASE_URL (from seed_scale): no flush/seed"
    )
    parser.add_argument("--only", default="", help="comma separated: only the endpoints whose name contains one")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    # As deployed (compose.yaml, deploy/amarktai.env.example): persistent database connections.
    env = bench_env(THROTTLE_USER="1000000/min", DB_CONN_MAX_AGE=60)
    print(
        f"database: {'PostgreSQL' if 'DATABASE_URL' in os.environ else 'SQLite (temporary)'}; machine loaded by others"
    )
    rows = []
    for n, size in enumerate(sizes):
        if args.reuse and "DATABASE_URL" not in os.environ:
            sys.exit("--reuse needs DATABASE_URL")
        if not args.reuse:
            seed(env, n == 0, size, args.heavy)
        info = json.loads(
            subprocess.run([PYTHON, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            .stdout.strip()
            .splitlines()[-1]
        )
        port = free_port()
        proc = start([str(BIN / "gunicorn"), "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}", "amarktai.wsgi"], env)
        try:
            wait_http(f"http://127.0.0.1:{port}/bench/hello", proc=proc)
            print(f"\n{size:,} trades ({info['trades']:,} the measured user's)")
            print(f"{'endpoint':48} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
            for name, path, token, kind in endpoints(info):
                if args.only and not any(part in name for part in args.only.split(",")):
                    continue
                times = measure(port, path, info[token], args.requests)
                p50, p99 = percentile(times, 50), percentile(times, 99)
                print(f"{name:48} {p50:8.1f} {p99:8.1f} {statistics.mean(times):8.1f}")
                rows.append((size, name, p50, p99, kind))
        finally:
            stop(proc)
    largest = max(sizes)
    for size, name, p50, p99, kind in rows:
        target = {"metrics": 50, LISTS: 25}.get(kind)
        judged = target is not None and size == largest and largest >= 1_000_000
        result(
            f"p99 {name} @ {size:,} trades",
            round(p99, 1),
            "ms",
            f"< {target} ms at 1M trades" if target else None,
            (p99 < target) if judged else None,
            f"p50 {p50:.1f} ms; loaded shared machine",
        )


if __name__ == "__main__":
    main()
