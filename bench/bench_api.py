"""Authenticated GET /api/bots throughput and latency, beside a bare DRF hello-world, under two server set-ups:
`manage.py serve` (uvicorn, one process, as `make run` serves) and gunicorn with 2 sync WSGI worker processes for the
plain API. bench/bench_servers.py puts Daphne, uvicorn and granian side by side at 100 bots per user.

Load comes from wrk (Debian package `wrk`) on the same machine. Targets (issue 8): /api/bots >= 50% of hello-world and
>= 1,000 req/s on this 2-core machine.

    python bench/bench_api.py [--seconds 10] [--connections 32]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import BIN, PYTHON, ROOT, bench_env, free_port, manage, result, start, stop, wait_http

SETUP = r"""
import django; django.setup()
from accounts.models import User
from accounts.services import issue_tokens
from bots.models import Bot
user, _ = User.objects.get_or_create(email="bench@example.com", defaults={"first_name": "Bench"})
if not Bot.objects.filter(user=user).exists():
    for i in range(10):
        Bot.objects.create(user=user, name=f"Bench {i}", exchange="luno", symbol="BTC/ZAR", status="active",
                           initial_capital=1000, current_capital=1000)
print(issue_tokens(user)["token"])
"""


def wrk(url, seconds, connections, token=None):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)

    def ms(match):
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rps": rps, "p50_ms": ms(p50), "p99_ms": ms(p99), "errors": int(non2xx.group(1)) if non2xx else 0}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    # Production-like: the cache (JWT users, bot lists) and channel layer on Redis, shared by the worker processes.
    redis_proc = None
    if "REDIS_URL" not in os.environ and shutil.which("redis-server"):
        redis_port = free_port()
        redis_proc = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    env = bench_env()
    manage(env, "migrate", "--noinput")
    token = (
        subprocess.run([PYTHON, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )

    setups = {
        "manage.py serve (1 process)": lambda port: [
            PYTHON,
            "manage.py",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-scheduler",
        ],
        "gunicorn WSGI (2 workers)": lambda port: [
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
    print(f"{'server':30} {'endpoint':14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for label, command in setups.items():
        port = free_port()
        proc = start(command(port), env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/bench/hello", proc=proc)
            wrk(base + "/bench/hello", 2, args.connections)  # warm-up
            hello = wrk(base + "/bench/hello", args.seconds, args.connections)
            bots = wrk(base + "/api/bots", args.seconds, args.connections, token)
        finally:
            stop(proc)
        for name, figures in (("hello-world", hello), ("GET /api/bots", bots)):
            print(
                f"{label:30} {name:14} {figures['rps']:9.0f} {figures['p50_ms']:8.1f} {figures['p99_ms']:8.1f} "
                f"{figures['errors']:8d}"
            )
        ratio = bots["rps"] / hello["rps"] * 100
        if redis_proc is not None and label == list(setups)[-1]:
            redis_proc.terminate()
        ok = ratio >= 50 and bots["rps"] >= 1000 and bots["errors"] == 0
        print(f"{label:30} GET /api/bots = {ratio:.0f}% of hello-world")
        result(
            f"GET /api/bots req/s, {label}",
            round(bots["rps"]),
            "req/s",
            ">= 1000 and >= 50% of hello-world",
            ok,
            f"hello-world {hello['rps']:.0f} req/s; /api/bots {ratio:.0f}% of it; p99 {bots['p99_ms']:.1f} ms",
        )


if __name__ == "__main__":
    main()
