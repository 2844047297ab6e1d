"""Profile one API request path end to end, in process: the WSGI handler (what a gunicorn worker runs) called directly
with a built environ, so the figures are Django + DRF + the app, without a server or a socket.

    python bench/profile_api.py [--path /api/bots] [--bots 100] [--requests 3000] [--top 25] [--no-profile]

Uses a temporary SQLite database unless DATABASE_URL is set, and a Redis of its own for the cache (as deployed; one
that other work shares would drop the cached rows under it) unless REDIS_URL is set. Prints requests/s and CPU per
request without the profiler, then cProfile's top functions by own time and by cumulative time. ``--trades N`` seeds
N trades with seed_scale (``--reuse``: what DATABASE_URL already holds) and reads as their heavy user.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bench_servers import SETUP
from bench.common import PYTHON, ROOT, bench_env, manage


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", default="/api/bots")
    parser.add_argument("--bots", type=int, default=100)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="with --trades: read what seed_scale left in DATABASE_URL")
    parser.add_argument(
        "--trades",
        type=int,
        default=0,
        help="seed this many trades (seed_scale, as bench_latency.py) and read as their heavy user",
    )
    args = parser.parse_args()

    redis_proc = None
    if not os.environ.get("REDIS_URL"):
        from bench.bench_ws_fanout import start_redis

        redis_proc, os.environ["REDIS_URL"] = start_redis()
    try:
        run(args)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()


def run(args):
    env = bench_env()
    if not args.reuse:
        manage(env, "migrate", "--noinput")
    if args.trades:
        from bench.bench_latency import SETUP as TRADES_SETUP

        users, bots = max(1, args.trades // 100), max(1, args.trades // 10)
        seed = ["seed_scale", "--users", str(users), "--bots", str(bots), "--trades", str(args.trades), "--seed", "1"]
        if not args.reuse:
            manage(env, *seed)
        out = subprocess.run([PYTHON, "-c", TRADES_SETUP], cwd=ROOT, env=env, capture_output=True, text=True)
    else:
        out = subprocess.run([PYTHON, "-c", SETUP, str(args.bots)], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    token = out.stdout.strip().splitlines()[-1]
    token = json.loads(token)["token"] if args.trades else token
    os.environ.update(env)
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    path, _, query = args.path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    status = []

    def start_response(s, headers, exc_info=None):
        status.append(s)

    def once():
        body = b"".join(app(dict(environ, **{"wsgi.input": io.BytesIO(b"")}), start_response))
        return body

    body = once()
    assert status[-1].startswith("200"), (status[-1], body[:300])
    print(f"{args.path}: {len(body)} bytes")
    for _ in range(200):
        once()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.requests):
        once()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"{args.requests / seconds:.0f} req/s in process ({seconds / args.requests * 1e6:.0f} us a request, "
        f"{cpu / args.requests * 1e6:.0f} us of CPU)"
    )
    if args.no_profile:
        return
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.requests):
        once()
    profile.disable()
    for order in ("tottime", "cumulative"):
        stream = io.StringIO()
        pstats.Stats(profile, stream=stream).sort_stats(order).print_stats(args.top)
        print(stream.getvalue())


if __name__ == "__main__":
    main()
