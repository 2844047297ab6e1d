"""Paper-exchange throughput on this machine.

Standalone: python bench/bench_paper_orders.py [N] [--platform luno] [--symbol BTC/ZAR]
Sets up Django with a temporary SQLite database (migrated from scratch), creates a user, places N market orders
(alternating buy/sell) through PaperExchange.create_order, then N/4 resting limit orders and cancels them, and prints
orders per second and latency percentiles.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django():
    var = tempfile.mkdtemp(prefix="amarktai-bench-")
    os.environ["AMARKTAI_VAR_DIR"] = var
    os.environ["DATABASE_URL"] = f"sqlite:///{var}/bench.sqlite3"
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
    args = parser.parse_args()
    var = setup_django()

    from decimal import Decimal

    from accounts.models import User
    from trading.exchanges import get_exchange
    from trading.platforms import get_platform

    platform = get_platform(args.platform)
    symbol = args.symbol or platform.default_symbol
    user = User.objects.create_user(email="bench@example.com", password="bench-pass-123", first_name="Bench")
    exchange = get_exchange(user, platform.id, "paper")
    market = exchange.market(symbol)
    amount = market["min_amount"] * 10

    latencies = []
    started = time.perf_counter()
    for i in range(args.n):
        t0 = time.perf_counter()
        exchange.create_order(symbol, "market", "buy" if i % 2 == 0 else "sell", amount)
        latencies.append(time.perf_counter() - t0)
    market_elapsed = time.perf_counter() - started

    limits = max(1, args.n // 4)
    below = (exchange.fetch_ticker(symbol)["bid"] * Decimal("0.5")).quantize(market["price_precision"])
    started = time.perf_counter()
    ids = [exchange.create_order(symbol, "limit", "buy", amount, price=below)["id"] for _ in range(limits)]
    for order_id in ids:
        exchange.cancel_order(order_id)
    limit_elapsed = time.perf_counter() - started

    balance = exchange.fetch_balance()
    print(f"database: SQLite in {var}")
    print(
        f"market orders: {args.n} on {platform.id} {symbol} in {market_elapsed:.2f} s = "
        f"{args.n / market_elapsed:.0f} orders/s"
    )
    print(
        f"  latency ms: mean {statistics.mean(latencies) * 1000:.2f}  p50 {percentile(latencies, 50) * 1000:.2f}  "
        f"p95 {percentile(latencies, 95) * 1000:.2f}  p99 {percentile(latencies, 99) * 1000:.2f}"
    )
    print(f"limit place+cancel: {limits} pairs in {limit_elapsed:.2f} s = {2 * limits / limit_elapsed:.0f} ops/s")
    print("final balance: " + ", ".join(f"{c} {v['total']}" for c, v in balance.items()))
    from bench.common import result

    result("paper market orders (SQLite, one process)", round(args.n / market_elapsed), "orders/s")
    result("paper market order latency p95", round(percentile(latencies, 95) * 1000, 2), "ms")


if __name__ == "__main__":
    main()
