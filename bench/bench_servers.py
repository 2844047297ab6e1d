"""The one-process ASGI servers side by side, in one run, serving the same Channels application (amarktai.asgi):
Daphne, uvicorn (uvloop + httptools) and granian, with gunicorn (2 sync WSGI workers, the production API tier) beside
them for the HTTP figures, and "daphne-stock": Daphne serving Django's own ASGIHandler (bench/asgi_stock.py), how
`make run` served before amarktai.asgi_http, so the speed-up shows in the same run. For each: a bare DRF hello-world,
authenticated GET /api/bots with 100 bots per user, and (ASGI servers only) a small WebSocket fan-out: one
trade_executed event per client, published from this process through channels-redis as a Celery worker would.

The machine is shared, so compare the ratios within one run (GET /api/bots against the same server's hello-world, each
server against Daphne) rather than the absolute figures. Targets (issue 17): the one-process server (`manage.py serve`,
what `make run` starts) >= 1,500 req/s on GET /api/bots; gunicorn 2 workers keep >= 55 % of hello-world.

Needs wrk and redis-server (Debian packages), or REDIS_URL.

    python bench/bench_servers.py [--seconds 8] [--connections 16] [--clients 100] [--only daphne,uvicorn,granian]
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bench_api import wrk
from bench.bench_ws_fanout import SETUP as WS_SETUP
from bench.bench_ws_fanout import pct, start_redis
from bench.common import BIN, PYTHON, ROOT, bench_env, free_port, manage, result, start, stop, wait_http

BOTS_PER_USER = 100

SETUP = r"""
import sys
import django; django.setup()
from accounts.models import User
from accounts.services import issue_tokens
from bots.models import Bot
n = int(sys.argv[1])
user, _ = User.objects.get_or_create(email="servers@example.com", defaults={"first_name": "Bench"})
have = Bot.objects.filter(user=user).count()
Bot.objects.bulk_create(
    Bot(user=user, name=f"Bench {i}", exchange="luno", symbol="BTC/ZAR", status="active", initial_capital=1000,
        current_capital=1000)
    for i in range(have, n)
)
print(issue_tokens(user)["token"])
"""

APP = "amarktai.asgi:application"

# The server command lines, as run in production (deploy/) and by `manage.py serve`, on 127.0.0.1:<port>.
SERVERS = {
    # Before: Daphne serving Django's own ASGIHandler (bench/asgi_stock.py), as `make run` did.
    "daphne-stock": lambda port: [
        str(BIN / "daphne"),
        "-v",
        "0",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "bench.asgi_stock:application",
    ],
    "daphne": lambda port: [str(BIN / "daphne"), "-v", "0", "-b", "127.0.0.1", "-p", str(port), APP],
    "uvicorn": lambda port: [
        str(BIN / "uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--ws",
        "websockets-sansio",
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
        APP,
    ],
    "granian": lambda port: [
        str(BIN / "granian"),
        "--interface",
        "asginl",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--log-level",
        "warning",
        APP,
    ],
    "serve": lambda port: [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"],
    "gunicorn (2 workers)": lambda port: [
        str(BIN / "gunicorn"),
        "-w",
        "2",
        "-k",
        "sync",
        "-b",
        f"127.0.0.1:{port}",
        "amarktai.wsgi:application",
    ],
}
ASGI = ("daphne-stock", "daphne", "uvicorn", "granian", "serve")


# One trade event per client, each client on its own connection: the small fan-out this benchmark compares servers
# with (bench_ws_fanout.py measures sustained fan-out at scale).
async def run_clients(ports, users, publish):
    import websockets

    latencies, connected = {}, []
    done = asyncio.Event()
    sem = asyncio.Semaphore(64)

    async def client(i, user_id, token):
        port = ports[i % len(ports)]
        async with sem:
            ws = await websockets.connect(
                f"ws://127.0.0.1:{port}/api/ws?token={token}", open_timeout=30, ping_interval=None, max_queue=None
            )
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv())["type"] == "pong"  # the consumer has joined user.<id>
        connected.append(ws)
        try:
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "trade_executed":
                    latencies[user_id] = time.time() - message["trade"]["sent_at"]
                    if len(latencies) == len(users):
                        done.set()
                    return
        finally:
            pass

    started = time.time()
    tasks = [asyncio.create_task(client(i, uid, tok)) for i, (uid, tok) in enumerate(users)]
    while len(connected) < len(users):
        for task in tasks:
            if task.done() and task.exception():
                raise task.exception()
        await asyncio.sleep(0.05)
    connect_seconds = time.time() - started
    print(f"{len(connected)} clients connected in {connect_seconds:.1f} s")

    loop = asyncio.get_running_loop()
    t0 = time.time()
    publish_seconds = await loop.run_in_executor(None, publish, users)
    try:
        await asyncio.wait_for(done.wait(), 30)
    except TimeoutError:
        pass
    total = time.time() - t0
    for ws in connected:
        await ws.close()
    for task in tasks:
        task.cancel()
    return latencies, connect_seconds, publish_seconds, total


def fanout(port, users):
    """Publish one trade_executed event per connected client; return (delivered, p50 ms, p99 ms, seconds)."""
    from realtime import events

    def publish(rows):
        started = time.time()
        for user_id, _token in rows:
            trade = {"id": f"bench-{user_id}", "bot_id": None, "symbol": "BTC/ZAR", "side": "buy", "amount": 0.001}
            events.publish(user_id, events.TRADE_EXECUTED, {"trade": {**trade, "sent_at": time.time()}})
        return time.time() - started

    latencies, _connect, _publish, total = asyncio.run(run_clients([port], users, publish))
    values = [v * 1000 for v in latencies.values()] or [float("nan")]
    return len(latencies), statistics.median(values), pct(values, 99), total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--clients", type=int, default=100, help="WebSocket clients for the small fan-out")
    parser.add_argument("--only", default=",".join(SERVERS), help="comma separated subset of: " + ", ".join(SERVERS))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    redis_proc, redis_url = (None, os.environ["REDIS_URL"]) if os.environ.get("REDIS_URL") else start_redis()
    env = bench_env(REDIS_URL=redis_url)
    figures = {}
    try:
        manage(env, "migrate", "--noinput")

        def run(code, *argv):
            out = subprocess.run([PYTHON, "-c", code, *argv], cwd=ROOT, env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(out.stderr[-3000:])
            return out.stdout.strip().splitlines()[-1]

        token = run(SETUP, str(BOTS_PER_USER))
        users = json.loads(run(WS_SETUP, str(args.clients)))
        os.environ.update(env)  # this process publishes the fan-out events: same settings, same Redis
        import django

        django.setup()

        print(f"{'server':22} {'endpoint':16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
        for label in args.only.split(","):
            port = free_port()
            command = SERVERS[label](port)
            if not Path(command[0]).exists():
                print(f"{label:22} not installed ({command[0]}): pip install -r requirements.txt")
                continue
            proc = start(command, env)
            try:
                base = f"http://127.0.0.1:{port}"
                wait_http(base + "/bench/hello", proc=proc)
                wrk(base + "/bench/hello", 2, args.connections)  # warm-up
                hello = wrk(base + "/bench/hello", args.seconds, args.connections)
                bots = wrk(base + "/api/bots", args.seconds, args.connections, token)
                ws = fanout(port, users) if label in ASGI and args.clients else None
            finally:
                stop(proc)
            figures[label] = hello, bots, ws
            for name, row in (("hello-world", hello), ("GET /api/bots", bots)):
                print(
                    f"{label:22} {name:16} {row['rps']:9.0f} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} "
                    f"{row['errors']:8d}"
                )
            if ws:
                print(f"{label:22} WS fan-out: {ws[0]}/{len(users)} delivered, p50 {ws[1]:.1f} ms, p99 {ws[2]:.1f} ms")
    finally:
        if redis_proc:
            stop(redis_proc)

    before = figures.get("daphne-stock")
    for label, (hello, bots, ws) in figures.items():
        ratio = bots["rps"] / hello["rps"] * 100
        vs = f"; {bots['rps'] / before[1]['rps']:.1f}x daphne-stock" if before and label != "daphne-stock" else ""
        note = f"hello-world {hello['rps']:.0f} req/s, /api/bots {ratio:.0f}% of it; p99 {bots['p99_ms']:.1f} ms{vs}"
        if label.startswith("gunicorn"):
            target, ok = ">= 55% of hello-world", ratio >= 55 and bots["errors"] == 0
        elif label == "serve":
            target, ok = ">= 1500 req/s", bots["rps"] >= 1500 and bots["errors"] == 0
        else:
            target, ok = "", None
        result(f"GET /api/bots ({BOTS_PER_USER} bots), {label}", round(bots["rps"]), "req/s", target, ok, note)
        if ws:
            delivered, p50, p99, _seconds = ws
            result(
                f"WS fan-out p99, {len(users)} clients, {label}",
                round(p99, 1),
                "ms",
                "all delivered",
                delivered == len(users),
                f"p50 {p50:.1f} ms; delivered {delivered}/{len(users)}",
            )


if __name__ == "__main__":
    main()
