"""Helpers for the benchmarks: free ports, server subprocesses, a throwaway database, result lines for run_all.py."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_env(**extra):
    """Environment for servers and set-up: a temp SQLite DB unless DATABASE_URL is given, DEBUG off, no TLS redirect."""
    env = dict(os.environ)
    if "AMARKTAI_VAR_DIR" not in env:
        env["AMARKTAI_VAR_DIR"] = tempfile.mkdtemp(prefix="amarktai-bench-")
    env.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings_bench")
    env.setdefault("DEBUG", "0")
    env["SECURE_SSL_REDIRECT"] = "0"
    env["PYTHONPATH"] = str(ROOT)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(env, *args):
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def start(cmd, env):
    """Start a server; its output goes to a temp file (an unread pipe would fill up and stall the server)."""
    log = tempfile.NamedTemporaryFile(prefix="amarktai-bench-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log.name
    return proc


def wait_http(url, timeout=30, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited: {Path(proc.log_path).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def result(name, value, unit, target=None, ok=None, note=""):
    """Print one machine-readable result line (collected by bench/run_all.py) after the human-readable output."""
    line = {"name": name, "value": value, "unit": unit, "target": target, "ok": ok, "note": note}
    print("BENCH_RESULT " + json.dumps(line), flush=True)
