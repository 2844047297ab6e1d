"""Paper-exchange throughput on this machine.

Standalone: python bench/bench_paper_orders.py [N] [--platform luno] [--symbol BTC/ZAR] [--profile]
Sets up Django with a temporary SQLite database (migrated from scratch; WAL, as the embedded default runs it), creates a
user, funds the user's paper account for the run, places N market orders (alternating buy/sell) through
PaperExchange.create_order, then N resting limit orders and cancels them, and prints market orders/s, limit orders/s
and cancels/s separately, with latency percentiles.

Funding: a paper account is funded the way the platform funds every paper account, from PAPER_STARTING_BALANCES on
its first use (PaperExchange._ensure_account); the run raises that setting for the bench user before the first order,
so the orders measure the exchange rather than running out of money (InsufficientFunds) part-way.

With DATABASE_URL set to PostgreSQL (as `make bench` is run for production figures), a second round runs the same orders
against that database (migrated if needed; its own throwaway user, deleted afterwards), reported on rows of their own.
--profile prints cProfile's top functions of the orders and cancels (where a commit's cost shows).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django(database_url=None):
    var = tempfile.mkdtemp(prefix="amarktai-bench-")
    os.environ["AMARKTAI_VAR_DIR"] = var
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{var}/bench.sqlite3"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "amarktai.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return var


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=500)
    parser.add_argument("--platform", default="luno")
    parser.add_argument("--symbol", default=None)
    parser.add_argument(
        "--database",
        default=None,
        help="a PostgreSQL URL to measure instead of a temporary SQLite file",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the orders and cancels, print the top 20")
    parser.add_argument("--limits", type=int, default=None, help="resting limit orders to place and cancel (default N)")
    args = parser.parse_args()
    production_url = os.environ.get("DATABASE_URL", "")
    var = setup_django(args.database)
    backend = "PostgreSQL" if args.database else "SQLite"

    from decimal import Decimal

    from django.test import override_settings

    from accounts.models import User
    from trading.exchanges import get_exchange
    from trading.platforms import get_platform

    platform = get_platform(args.platform)
    symbol = args.symbol or platform.default_symbol
    email = f"paper-bench-{uuid.uuid4().hex[:12]}@bench.local"
    user = User.objects.create_user(email=email, password="bench-pass-123", first_name="Bench")
    exchange = get_exchange(user, platform.id, "paper")
    market = exchange.market(symbol)
    amount = market["min_amount"] * 10
    limits = args.limits if args.limits is not None else args.n
    price = Decimal(str(exchange.fetch_ticker(symbol)["ask"]))
    # Enough quote for every buy (fees and slippage included) and for every resting limit buy's reserve, ten times over.
    funding = (price * amount * (args.n + limits) * 10).quantize(Decimal("1"))
    with override_settings(PAPER_STARTING_BALANCES={market["quote"]: str(funding)}):
        exchange.fetch_balance()  # the account's first use: funded now, as every paper account is

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    latencies = []
    started = time.perf_counter()
    for i in range(args.n):
        t0 = time.perf_counter()
        exchange.create_order(symbol, "market", "buy" if i % 2 == 0 else "sell", amount)
        latencies.append(time.perf_counter() - t0)
    market_elapsed = time.perf_counter() - started

    below = (exchange.fetch_ticker(symbol)["bid"] * Decimal("0.5")).quantize(market["price_precision"])
    limit_latencies = []
    started = time.perf_counter()
    ids = []
    for _ in range(limits):
        t0 = time.perf_counter()
        ids.append(exchange.create_order(symbol, "limit", "buy", amount, price=below)["id"])
        limit_latencies.append(time.perf_counter() - t0)
    limit_elapsed = time.perf_counter() - started
    started = time.perf_counter()
    for order_id in ids:
        exchange.cancel_order(order_id)
    cancel_elapsed = time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        print("cProfile of the orders and cancels (top 20 by own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats("amarktai|trading|accounts", 25)

    balance = exchange.fetch_balance()
    print(f"database: {backend}" + ("" if args.database else f" in {var}"))
    print(
        f"market orders: {args.n} on {platform.id} {symbol} in {market_elapsed:.2f} s = "
        f"{args.n / market_elapsed:.0f} orders/s"
    )
    print(
        f"  latency ms: mean {statistics.mean(latencies) * 1000:.2f}  p50 {percentile(latencies, 50) * 1000:.2f}  "
        f"p95 {percentile(latencies, 95) * 1000:.2f}  p99 {percentile(latencies, 99) * 1000:.2f}"
    )
    print(
        f"limit orders (resting): {limits} in {limit_elapsed:.2f} s = {limits / limit_elapsed:.0f} orders/s; "
        f"p95 {percentile(limit_latencies, 95) * 1000:.2f} ms"
    )
    print(f"cancels: {limits} in {cancel_elapsed:.2f} s = {limits / cancel_elapsed:.0f} cancels/s")
    print("final balance: " + ", ".join(f"{c} {v['total']}" for c, v in balance.items()))
    from bench.common import result

    market_rate = round(args.n / market_elapsed)
    limit_rate = round(limits / limit_elapsed)
    note = f"p95 {percentile(latencies, 95) * 1000:.2f} ms; funded {funding} {market['quote']}"
    result(
        f"paper market orders/s ({backend}, one process)", market_rate, "orders/s", ">= 1000", market_rate >= 1000, note
    )
    result(
        f"paper limit orders/s ({backend}, one process)",
        limit_rate,
        "orders/s",
        ">= 1000",
        limit_rate >= 1000,
        f"resting; p95 {percentile(limit_latencies, 95) * 1000:.2f} ms; cancels {limits / cancel_elapsed:.0f}/s",
    )
    if args.database:
        user.delete()  # the throwaway user, its paper book and orders
    elif production_url.startswith("postgres"):
        print("\nthe same orders on PostgreSQL (DATABASE_URL):", flush=True)
        again = [a for a in sys.argv[1:] if a != "--profile"]
        subprocess.run([sys.executable, __file__, *again, "--database", production_url], check=True)


if __name__ == "__main__":
    main()
