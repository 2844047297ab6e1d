"""WebSocket fan-out: N clients (default 500) connected to Daphne with channels-redis, one trade_executed event each,
published to its own user through realtime.events.publish() from another process (as a Celery worker would).
Measures publish -> client delivery latency (p50/p99). Target (issue 5): p99 < 250 ms.

Starts its own redis-server on a free port (Debian package `redis-server`) unless REDIS_URL is set.

    python bench/bench_ws_fanout.py [--clients 500] [--processes 1]
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import BIN, PYTHON, ROOT, bench_env, free_port, manage, result, start, stop, wait_http

SETUP = r"""
import json, sys
import django; django.setup()
from accounts.models import User
from accounts.services import issue_tokens
n = int(sys.argv[1])
users = [User(email=f"fanout{i}@example.com", first_name="Fan") for i in range(n)]
for u in users:
    u.set_unusable_password()
User.objects.bulk_create(users, ignore_conflicts=True)
rows = User.objects.filter(email__startswith="fanout").order_by("email")[:n]
print(json.dumps([[str(u.pk), issue_tokens(u)["token"]] for u in rows]))
"""


def start_redis():
    if not shutil.which("redis-server"):
        sys.exit("redis-server is needed: apt-get install redis-server (or set REDIS_URL)")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    import socket

    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("redis-server did not start")


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--processes", type=int, default=1, help="Daphne processes (clients spread round-robin)")
    args = parser.parse_args()

    redis_proc, redis_url = (None, os.environ["REDIS_URL"]) if os.environ.get("REDIS_URL") else start_redis()
    env = bench_env(REDIS_URL=redis_url)
    servers = []
    try:
        manage(env, "migrate", "--noinput")
        out = (
            subprocess.run(
                [PYTHON, "-c", SETUP, str(args.clients)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        users = json.loads(out)
        ports = []
        for _ in range(args.processes):
            port = free_port()
            proc = start(
                [str(BIN / "daphne"), "-v", "0", "-b", "127.0.0.1", "-p", str(port), "amarktai.asgi:application"], env
            )
            servers.append(proc)
            wait_http(f"http://127.0.0.1:{port}/api/health", proc=proc)
            ports.append(port)

        # This process publishes, like a Celery worker: same settings, same Redis.
        os.environ.update(env)
        import django

        django.setup()
        from realtime import events

        def publish(rows):
            started = time.time()
            for user_id, _token in rows:
                trade = {
                    "id": f"bench-{user_id}",
                    "bot_id": None,
                    "exchange": "luno",
                    "symbol": "BTC/ZAR",
                    "side": "buy",
                    "amount": 0.001,
                    "price": 1_000_000.0,
                    "profit_loss": 0.0,
                    "profit": 0.0,
                    "sent_at": time.time(),
                }
                events.publish(user_id, events.TRADE_EXECUTED, {"trade": trade})
            return time.time() - started

        latencies, _connect_s, publish_s, total_s = asyncio.run(run_clients(ports, users, publish))
    finally:
        for proc in servers:
            stop(proc)
        if redis_proc:
            stop(redis_proc)

    received = len(latencies)
    values = [v * 1000 for v in latencies.values()]
    p50 = statistics.median(values) if values else float("nan")
    p99 = pct(values, 99) if values else float("nan")
    worst = max(values) if values else float("nan")
    print(f"daphne processes: {args.processes}, clients: {args.clients}, delivered: {received}")
    print(
        f"published {args.clients} events in {publish_s:.2f} s ({args.clients / publish_s:.0f} events/s); "
        f"all delivered after {total_s:.2f} s"
    )
    print(f"delivery latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    ok = received == args.clients and p99 < 250
    result(
        f"WS fan-out p99 latency, {args.clients} clients, {args.processes} daphne",
        round(p99, 1),
        "ms",
        "< 250 ms",
        ok,
        f"p50 {p50:.1f} ms; delivered {received}/{args.clients}; publish {args.clients / publish_s:.0f} ev/s",
    )


if __name__ == "__main__":
    main()
