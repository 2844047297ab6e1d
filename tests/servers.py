"""Real server processes for tests: Daphne serving amarktai.asgi on a free port."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def daphne(env_overrides=None, migrate=True, timeout=30):
    """Yield the base URL of a Daphne subprocess; its output goes to a temp log file (shown if it dies)."""
    var = tempfile.mkdtemp(prefix="amarktai-test-")
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "amarktai.settings", "AMARKTAI_VAR_DIR": var,
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{var}/server.sqlite3", "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0", "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING",
    })
    env.update(env_overrides or {})
    if migrate:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    port = free_port()
    log = open(Path(var) / "daphne.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port),
                             "amarktai.asgi:application"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError("daphne exited: " + log.read()[-3000:])
            try:
                httpx.get(f"{base}/api/system/ping", timeout=1)
                break
            except httpx.HTTPError:
                if time.time() > deadline:
                    raise RuntimeError("daphne did not come up") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
