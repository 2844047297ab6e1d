"""WebSocket fan-out at scale: N clients (one user each) on one ASGI server process with Redis, every user receiving
``--rate`` trade_executed events per second for ``--seconds`` seconds, published through realtime.events.send_many()
from other processes (as Celery workers would; each publisher sends one batch per tick: the events go through the
fan-out hub, realtime.hub). Reports, per client count as soon as it is measured, the messages delivered per second and
the publish -> client delivery latency (p50/p99). A handshake the loaded server drops is tried again (5 times).

Target (issue 17): 5,000 clients on one process, p99 < 250 ms, >= 25,000 messages/s delivered.

Starts its own redis-server on a free port (Debian package `redis-server`) unless REDIS_URL is set. The server command
is chosen with --server (daphne by default, uvicorn or granian when installed), so the same run can compare them.

    python bench/bench_ws_fanout.py [--clients 500,2000,5000] [--rate 5] [--seconds 5] [--publishers 2]
                                    [--client-procs 2] [--server daphne] [--layer core|pubsub]
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
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
users = [User(email=f"fanout{i:06d}@example.com", first_name="Fan") for i in range(n)]
for u in users:
    u.set_unusable_password()
User.objects.bulk_create(users, ignore_conflicts=True)
rows = User.objects.filter(email__startswith="fanout").order_by("email")[:n]
print(json.dumps([[str(u.pk), issue_tokens(u)["token"]] for u in rows]))
"""

SERVERS = {
    "daphne": lambda port: [
        str(BIN / "daphne"), "-v", "0", "-b", "127.0.0.1", "-p", str(port), "amarktai.asgi:application",
    ],
    "uvicorn": lambda port: [
        str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        "amarktai.asgi:application",
    ],
    "granian": lambda port: [
        str(BIN / "granian"), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), "--log-level",
        "warning", "amarktai.asgi:application",
    ],
}  # fmt: skip


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


# ------------------------------------------------------------------ clients (their own processes, no Django)


def client_process(port, users, ready, go_stop, out):
    """Connect every user's socket, say so on ``ready``, record (latency, receive time) of each trade_executed until
    ``go_stop`` is set, then put the results on ``out``."""
    asyncio.run(_clients(port, users, ready, go_stop, out))


async def _clients(port, users, ready, go_stop, out):
    import websockets

    latencies, last = [], [0.0]
    sem = asyncio.Semaphore(16)  # concurrent handshakes per process (channels-redis pool)
    sockets = []

    async def connect(token):
        async with sem:
            for attempt in range(5):  # a loaded server may drop a handshake (Daphne's connect timeout): try again
                try:
                    ws = await websockets.connect(
                        f"ws://127.0.0.1:{port}/api/ws?token={token}",
                        open_timeout=60,
                        ping_interval=None,
                        max_queue=None,
                    )
                    break
                except (OSError, websockets.exceptions.WebSocketException):
                    if attempt == 4:
                        return
                    await asyncio.sleep(1 + attempt)
            await ws.send('{"type":"ping"}')
            while json.loads(await ws.recv())["type"] != "pong":  # the consumer follows its events
                pass
        sockets.append(ws)

    async def read(ws):
        try:
            async for raw in ws:
                now = time.time()
                if '"trade_executed"' in raw:
                    latencies.append(now - json.loads(raw)["trade"]["sent_at"])
                    last[0] = now
        except Exception:  # noqa: BLE001 - closed at the end
            pass

    await asyncio.gather(*(connect(token) for _uid, token in users))
    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    ready.put(len(sockets))
    while not go_stop.is_set():
        await asyncio.sleep(0.1)
    for ws in sockets:
        await ws.close()
    for task in readers:
        task.cancel()
    out.put((latencies, last[0]))


# ------------------------------------------------------------------ publishers (their own processes, with Django)


def publisher_process(env, user_ids, rate, seconds, start_at, out):
    os.environ.update(env)
    import django

    django.setup()
    from realtime import events

    ticks = int(rate * seconds)
    sent, behind = 0, 0.0
    while time.time() < start_at:
        time.sleep(0.001)
    for tick in range(ticks):
        due = start_at + tick / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        else:
            behind = max(behind, -delay)
        batch = []
        for user_id in user_ids:
            trade = {
                "id": f"bench-{user_id}-{tick}",
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
            batch.append((user_id, events.TRADE_EXECUTED, {"trade": trade}))
        events.send_many(batch)
        sent += len(batch)
    out.put((sent, time.time(), behind))


def run_one(ctx, env, port, users, args):
    """One client count: connect, publish for args.seconds, collect. Returns the figures."""
    n = len(users)
    procs = max(1, min(args.client_procs, n))
    ready, out, pub_out = ctx.Queue(), ctx.Queue(), ctx.Queue()
    go_stop = ctx.Event()
    clients = [
        ctx.Process(target=client_process, args=(port, users[i::procs], ready, go_stop, out), daemon=True)
        for i in range(procs)
    ]
    started = time.time()
    for proc in clients:
        proc.start()
    connected = sum(ready.get(timeout=600) for _ in clients)
    connect_s = time.time() - started
    print(f"{connected} clients connected in {connect_s:.1f} s", flush=True)

    start_at = time.time() + 2.0  # every publisher starts its clock at the same moment
    publishers = max(1, min(args.publishers, n))
    pubs = [
        ctx.Process(
            target=publisher_process,
            args=(env, [uid for uid, _ in users[i::publishers]], args.rate, args.seconds, start_at, pub_out),
            daemon=True,
        )
        for i in range(publishers)
    ]
    for proc in pubs:
        proc.start()
    sent, publish_end, behind = 0, 0.0, 0.0
    for _ in pubs:
        s, end, b = pub_out.get(timeout=args.seconds * 20 + 120)
        sent, publish_end, behind = sent + s, max(publish_end, end), max(behind, b)
    # Drain: wait until nothing new arrives for a second (at most 30 s after the last publish).
    time.sleep(min(30.0, 1.0 + args.seconds))
    go_stop.set()
    latencies, last = [], 0.0
    for _ in clients:
        lat, t = out.get(timeout=120)
        latencies.extend(lat)
        last = max(last, t)
    for proc in clients + pubs:
        proc.join(10)
    delivered = len(latencies)
    window = max(1e-9, (last or publish_end) - start_at)
    values = [v * 1000 for v in latencies] or [float("nan")]
    return {
        "clients": n,
        "sent": sent,
        "delivered": delivered,
        "msgs_per_s": delivered / window,
        "offered_per_s": n * args.rate,
        "p50": pct(values, 50),
        "p99": pct(values, 99),
        "max": max(values),
        "publisher_behind_s": behind,
        "connect_s": connect_s,
    }


def report(row, args):
    """Print one client count's figures (as soon as it is measured: a later, larger count may not finish)."""
    n = row["clients"]
    print(
        f"{n} clients: delivered {row['delivered']}/{row['sent']} = {row['msgs_per_s']:.0f} msgs/s "
        f"(offered {row['offered_per_s']:.0f}/s); latency p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms, "
        f"max {row['max']:.1f} ms; publishers fell behind by up to {row['publisher_behind_s']:.2f} s"
    )
    ok = row["delivered"] == row["sent"] and row["p99"] < 250 and (n < 5000 or row["msgs_per_s"] >= 25000)
    note = (
        f"{row['msgs_per_s']:.0f} msgs/s delivered of {row['offered_per_s']:.0f} offered; "
        f"p50 {row['p50']:.1f} ms; delivered {row['delivered']}/{row['sent']}; {args.server}, {args.layer} layer"
    )
    result(f"ws_fanout_p99 {n} clients", round(row["p99"], 1), "ms", "< 250 ms", ok, note)
    result(
        f"ws_fanout_msgs_per_s {n} clients",
        round(row["msgs_per_s"]),
        "msgs/s",
        ">= 25000 at 5000 clients",
        None if n < 5000 else row["msgs_per_s"] >= 25000,
        f"{args.rate:g} events/s per user",
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="500,2000,5000", help="comma separated client counts, e.g. 500,2000,5000")
    parser.add_argument("--rate", type=float, default=5.0, help="events per second per user")
    parser.add_argument("--seconds", type=float, default=2.0, help="how long each count publishes")
    parser.add_argument("--publishers", type=int, default=2, help="publishing processes (like Celery workers)")
    parser.add_argument("--client-procs", type=int, default=2, help="processes holding the client sockets")
    parser.add_argument("--server", default="daphne", choices=sorted(SERVERS))
    parser.add_argument(
        "--layer",
        default="core",
        choices=["core", "pubsub"],
        help="channels-redis layer for the session-control and broadcast groups (user events go through realtime.hub): "
        "core (RedisChannelLayer, the platform's) or pubsub (RedisPubSubChannelLayer)",
    )
    args = parser.parse_args()
    counts = [int(c) for c in str(args.clients).split(",") if c.strip()]

    redis_proc, redis_url = (None, os.environ["REDIS_URL"]) if os.environ.get("REDIS_URL") else start_redis()
    env = bench_env(REDIS_URL=redis_url, BENCH_CHANNEL_LAYER=args.layer, LOG_LEVEL="WARNING")
    server = None
    rows = []
    try:
        manage(env, "migrate", "--noinput")
        out = subprocess.run(
            [PYTHON, "-c", SETUP, str(max(counts))], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        users = json.loads(out.stdout.strip().splitlines()[-1])
        port = free_port()
        server = start(SERVERS[args.server](port), env)
        wait_http(f"http://127.0.0.1:{port}/api/health", proc=server)
        ctx = multiprocessing.get_context("fork")
        for n in counts:
            print(f"\n## {n} clients, {args.rate:g} events/s each, {args.seconds:g} s, {args.server}, {args.layer}")
            rows.append(run_one(ctx, env, port, users[:n], args))
            report(rows[-1], args)
    finally:
        stop(server)
        if redis_proc:
            stop(redis_proc)


if __name__ == "__main__":
    main()
