"""A real Amarktai server for browser tests: `manage.py serve` (Daphne + the embedded bot scheduler) on a free port,
with its own temporary SQLite database, migrated. It can be stopped and started again on the same port and database
(to test that pages reconnect their live feed after a server restart)."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.servers import ROOT, free_port

_MIGRATED = {}


def _migrated_database(env):
    """A freshly migrated SQLite file, made once per test run: each server starts from a copy of it (running the
    migrations for every server took seconds each time)."""
    if "path" not in _MIGRATED:
        var = tempfile.mkdtemp(prefix="amarktai-portal-migrated-")
        atexit.register(shutil.rmtree, var, ignore_errors=True)
        path = Path(var) / "portal.sqlite3"
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env={**env, "AMARKTAI_VAR_DIR": var, "DATABASE_URL": f"sqlite:///{path}"},
            check=True,
            capture_output=True,
        )
        _MIGRATED["path"] = path
    return _MIGRATED["path"]


class PortalServer:
    def __init__(self):
        self.var = tempfile.mkdtemp(prefix="amarktai-portal-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log_path = Path(self.var) / "server.log"
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "amarktai.settings",
                "AMARKTAI_VAR_DIR": self.var,
                # Embedded mode (one process: web + scheduler + in-memory channel layer) on a throwaway SQLite file.
                "DATABASE_URL": f"sqlite:///{self.var}/portal.sqlite3",
                "DEBUG": "1",
                "SECURE_SSL_REDIRECT": "0",
                "PYTHONPATH": str(ROOT),
                "LOG_LEVEL": "WARNING",
                # Browser tests sign up and log in several times from one address.
                "THROTTLE_AUTH_IP": "1000/min",
                "THROTTLE_AUTH_ACCOUNT": "1000/min",
                "THROTTLE_REGISTER_IP": "1000/hour",
                # The Supertrend exit tests run the service themselves on candles they choose (manage_shell); the
                # scheduler's own runs on the simulated feed would overwrite the trend they check.
                "SUPERTREND_EXIT_SECONDS": "3600",
            }
        )
        self.env = env
        shutil.copyfile(_migrated_database(env), Path(self.var) / "portal.sqlite3")

    def command(self):
        return [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)]

    def start(self, timeout=40):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log()[-3000:])
            try:
                if httpx.get(f"{self.base}/api/system/ping", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("server did not come up: " + self.log()[-3000:])
            time.sleep(0.2)

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def log(self):
        try:
            return self.log_path.read_text()
        except OSError:
            return ""

    def close(self):
        self.stop()
        shutil.rmtree(self.var, ignore_errors=True)
