"""One worker process making REST calls to a fake (or any) Binance through the real ccxt adapter, as a Celery worker's
bot ticks would: used by tests/exchange/test_ratelimit_processes.py and bench/bench_ratelimit.py.

    python -m tests.fake_exchange.worker --url http://127.0.0.1:PORT --seconds 5 --call balance [--start-at EPOCH]

Django is set up from the environment (DJANGO_SETTINGS_MODULE, REDIS_URL: with it the rate limiter's buckets are
shared in Redis; EXCHANGE_RATE_LIMITS sizes them). The worker loads the markets, waits until ``--start-at`` (so that
every worker starts together), calls ``--call`` (balance: a private call carrying the key; ticker: a public one) in a
loop until ``--seconds`` have passed, and prints one JSON line: {"calls", "rate_limited", "errors", "waited"}.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--call", choices=["balance", "ticker"], default="balance")
    parser.add_argument("--key", default="fake-api-key-0001")
    parser.add_argument("--secret", default="fake-api-secret-0001-abcdefghijklmnop")
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amarktai.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.conf import settings

    from amarktai.errors import ProviderError, RateLimited
    from trading.exchanges.ccxt_adapter import CcxtExchange

    settings.EXCHANGE_URL_OVERRIDES = {**settings.EXCHANGE_URL_OVERRIDES, "binance": args.url}
    ex = CcxtExchange("binance", args.key, args.secret, max_retries=0)
    ex.load_markets()
    if args.start_at:
        time.sleep(max(0.0, args.start_at - time.time()))
    calls = limited = errors = 0
    waited = 0.0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            if args.call == "balance":
                ex.fetch_balance()
            else:
                ex.fetch_ticker("BTC/USDT")
            calls += 1
        except RateLimited:
            limited += 1
        except ProviderError:
            errors += 1
        waited += time.monotonic() - started
    print(json.dumps({"calls": calls, "rate_limited": limited, "errors": errors, "waited": round(waited, 3)}))


if __name__ == "__main__":
    main()
