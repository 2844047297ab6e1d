"""The whole production stack as one test: PostgreSQL and Redis (the suite's own, as CI's second pass starts them),
gunicorn (-w 2, deploy/gunicorn.conf.py when present), Daphne, a Celery worker and beat, and the real nginx running the
repository's nginx.conf (only ports, paths and a self-signed certificate substituted: tests/servers.py), every process
from this venv with one environment (the test database, REDIS_URL, DEBUG=0, BOT_TICK_SECONDS=1, one shared
PROMETHEUS_MULTIPROC_DIR). A user's journey, all over HTTPS through nginx:

1. register, log in, GET /api/auth/me;
2. portal pages are HTML, and the static files they reference come from nginx's /static/ location;
3. a WebSocket (/api/ws) and an SSE stream (/api/realtime/events) are open before the bot exists;
4. a paper momentum bot is created; beat dispatches its tick, the worker (tests/system/stack_worker_hook.py: fixed
   candles ending in a buy signal) places a paper order, and the trade shows up in GET /api/trades (price_source
   "simulated"), as a trade_executed WebSocket message and as a trade_update SSE event;
5. /metrics (loopback is an allowed address in nginx.conf) aggregates the worker's tick and order counters;
6. ``manage.py doctor`` (when the project has it) passes against this stack;
7. the worker stops: /api/health/components turns "degraded" with celery "down", while the public /api/health (the load
   balancer's check: database and cache, the parts without which this web instance cannot serve) stays 200 "ok" —
   a dead worker is no reason to take the web tier out of rotation.

Needs PostgreSQL (several processes share the test database) and REDIS_URL (broker, channel layer, cache); skipped
otherwise, never under CI with both set. Server logs are printed when it fails.
"""

import asyncio
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import websockets
from django.conf import settings
from django.db import connection

from tests import servers

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
PASSWORD = "S3cure-pass-123"
EMAIL = "stack@example.com"
TRADE_TIMEOUT = 30
CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _require_stack():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        reason = (
            "the whole-stack test needs DATABASE_URL on PostgreSQL and REDIS_URL set (processes sharing the test "
            f"database, a real broker and channel layer); this run has {connection.vendor} and "
            f"REDIS_URL={'set' if settings.REDIS_URL else 'unset'}"
        )
        if CI and os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL"):
            pytest.fail(f"{reason}: CI's PostgreSQL+Redis pass must run it", pytrace=False)
        pytest.skip(f"{reason}; CI's second pass (PostgreSQL + Redis) runs it")
    missing = [
        name for name, found in (("nginx", servers.nginx_binary()), ("openssl", shutil.which("openssl"))) if not found
    ]
    if missing:
        reason = f"{' and '.join(missing)} not installed (apt-get install nginx-light openssl)"
        if CI:
            pytest.fail(f"{reason}: CI must run the whole-stack test (.ci/run installs nginx-light)", pytrace=False)
        pytest.skip(f"{reason}; CI runs this test")


def _run(coroutine):
    """asyncio.run in a fresh thread: another test (Playwright's sync API) may leave an event loop set on this one."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _wait(predicate, timeout, interval=0.25):
    """Call ``predicate`` until it returns something truthy (returned) or ``timeout`` seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


class Stack:
    """Every process of the deployment, started from this venv with one environment; see the module docstring."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="amarktai-stack-"))
        self.base.chmod(0o755)  # nginx's workers (an unprivileged user when run as root) read the static files here
        self.var, self.metrics, self.nginx_dir = self.base / "var", self.base / "metrics", self.base / "nginx"
        for directory in (self.var, self.metrics, self.nginx_dir):
            directory.mkdir(mode=0o755)
            directory.chmod(0o755)
        self.processes = servers.Processes(self.base)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "amarktai.settings",
            "PYTHONPATH": str(servers.ROOT),
            "AMARKTAI_VAR_DIR": str(self.var),  # one SECRET_KEY and field key for all: a token works everywhere
            "DATABASE_URL": servers.database_url(connection),
            "REDIS_URL": settings.REDIS_URL,
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "BOT_TICK_SECONDS": "1",
            "CELERY_HEALTH_CACHE_SECONDS": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics),
            "SSE_HEARTBEAT_SECONDS": "2",
        }
        for name in ("TRUSTED_PROXIES", "TRUSTED_PROXY_COUNT", "METRICS_TOKEN", "SECURE_SSL_REDIRECT"):
            self.env.pop(name, None)  # the documented defaults, whatever this shell exports
        self.url = ""

    def start(self):
        from amarktai.celery import app

        # Start from an empty queue: no task another test left behind is handed to this worker.
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete("celery")
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=servers.ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        api_port, daphne_port, http_port, https_port = (servers.free_port() for _ in range(4))
        start = self.processes.start
        start("gunicorn", servers.gunicorn_command(api_port, workers=2), self.env)
        start("daphne", servers.daphne_command(daphne_port), self.env)
        start("worker", [sys.executable, str(HERE / "stack_worker_hook.py")], self.env)
        start("beat", servers.celery_beat_command(self.base), self.env)
        # The market-data service, as deploy/amarktai-market-data.service runs it (one stream per exchange).
        start("market-data", [sys.executable, "manage.py", "market_data"], self.env)
        conf = servers.nginx_stack_config(
            self.nginx_dir, api_port, daphne_port, self.var / "staticfiles", http_port, https_port
        )
        start("nginx", servers.nginx_command(conf, self.nginx_dir, "daemon off;"))
        self.url = f"https://127.0.0.1:{https_port}"
        self.tls = servers.tls_context(self.nginx_dir)
        self.processes.wait_http("gunicorn", f"http://127.0.0.1:{api_port}/api/system/ping", 40)
        self.processes.wait_http("daphne", f"http://127.0.0.1:{daphne_port}/api/system/ping", 40)
        self.processes.wait_http("nginx", f"{self.url}/api/system/ping", 20, verify=self.tls)

    def logs(self):
        nginx_logs = "".join(
            f"----- nginx {name} -----\n{(self.nginx_dir / name).read_text(errors='replace')[-3000:]}\n"
            for name in ("error.log", "access.log")
            if (self.nginx_dir / name).exists()
        )
        return f"{self.processes.logs()}\n{nginx_logs}"

    def stop(self):
        self.processes.stop_all()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def stack(transactional_db):  # the server processes must see what this test's requests create
    _require_stack()
    running = Stack()
    try:
        running.start()
        yield running
    except BaseException:
        print(running.logs())
        raise
    finally:
        running.stop()


def _client(stack):
    return httpx.AsyncClient(base_url=stack.url, verify=stack.tls, timeout=15)


async def _sse_events(response):
    """Parsed SSE events ({"id", "event", "data"}) of an httpx streaming response."""
    block = []
    async for line in response.aiter_lines():
        if line == "":
            fields = dict(item.split(": ", 1) for item in block if ": " in item)
            block = []
            if "event" in fields:
                yield {"id": fields.get("id"), "event": fields["event"], "data": json.loads(fields["data"])}
        else:
            block.append(line)


async def _components(http, auth):
    r = await http.get("/api/health/components", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


async def _wait_async(probe, timeout, interval=0.25):
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


def _counter_total(metrics_text, name, **labels):
    """The sum of the samples of counter ``name`` whose labels include ``labels``."""
    total = 0.0
    for match in re.finditer(rf"^{name}(?:\{{([^}}]*)\}})? (\S+)$", metrics_text, re.MULTILINE):
        sample = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(sample.get(key) == value for key, value in labels.items()):
            total += float(match.group(2))
    return total


def _static_cache_controls():
    """The Cache-Control values of nginx.conf's /static/ location: a static response with one came from nginx."""
    text = (servers.ROOT / "nginx.conf").read_text()
    block = text[text.index("location /static/") :]
    block = block[: block.index("\n        location / {")]
    return set(re.findall(r'add_header Cache-Control "([^"]+)"', block))


async def _portal_and_static(http, static_root):
    """Portal pages render (gunicorn) and the files they reference come from nginx's /static/ location."""
    referenced = set()
    for page in ("/login", "/signup", "/dashboard", "/bots", "/trades"):
        r = await http.get(page)
        assert r.status_code == 200, (page, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("text/html"), (page, r.headers["content-type"])
        referenced |= set(re.findall(r'<(?:script[^>]+src|link[^>]+href)="(/static/[^"]+)"', r.text))
    expected = {".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    assert {Path(p).suffix for p in referenced} >= {".js", ".css"}, referenced
    cache_controls = _static_cache_controls()
    for path in sorted(referenced):
        r = await http.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert expected[Path(path).suffix] in r.headers["content-type"], (path, r.headers["content-type"])
        assert r.headers.get("cache-control") in cache_controls, (path, r.headers, cache_controls)
        assert r.content == (static_root / path.removeprefix("/static/")).read_bytes(), path


def test_user_journey_through_the_whole_stack(stack):
    async def journey():
        async with _client(stack) as http:
            # 1. Register, log in, who am I.
            r = await http.post("/api/auth/register", json={"email": EMAIL, "password": PASSWORD, "first_name": "S"})
            assert r.status_code == 200, r.text
            r = await http.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
            assert r.status_code == 200, r.text
            token = r.json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            r = await http.get("/api/auth/me", headers=auth)
            assert r.status_code == 200 and r.json()["user"]["email"] == EMAIL, r.text

            # 2. The portal and its static files.
            await _portal_and_static(http, stack.var / "staticfiles")

            # Every component up, the worker included (it answers Celery's ping), before the bot exists.
            async def all_up():
                body = await _components(http, auth)
                return body if body["status"] == "ok" else None

            healthy = await _wait_async(all_up, 30, 0.5)
            assert healthy, f"the stack never became healthy: {await _components(http, auth)}"

            # 3. Both realtime feeds, open before the bot is created.
            ws_url = f"wss://127.0.0.1:{stack.url.rsplit(':', 1)[1]}/api/ws?token={token}"
            async with (
                websockets.connect(ws_url, ssl=stack.tls) as ws,
                http.stream("GET", f"/api/realtime/events?token={token}", timeout=None) as sse,
            ):
                assert sse.status_code == 200 and sse.headers["content-type"].startswith("text/event-stream")
                events = _sse_events(sse)
                first = await asyncio.wait_for(events.__anext__(), 10)
                assert first["event"] == "overview_update", first
                await ws.send(json.dumps({"type": "ping"}))

                async def pong():
                    while json.loads(await ws.recv())["type"] != "pong":
                        pass

                await asyncio.wait_for(pong(), 10)  # the consumer has joined the user's group

                # 4. A paper momentum bot: beat dispatches its tick, the worker trades.
                r = await http.post(
                    "/api/bots",
                    headers=auth,
                    json={
                        "name": "Stack momentum",
                        "exchange": "luno",
                        "symbol": "BTC/ZAR",
                        "strategy": "momentum",
                        "trading_mode": "paper",
                        "initial_capital": "50000",
                    },
                )
                assert r.status_code == 201, r.text
                bot_id = r.json()["bot"]["id"]

                async def ws_trade():
                    while True:
                        message = json.loads(await ws.recv())
                        if message["type"] == "trade_executed" and message["trade"].get("bot_id") == bot_id:
                            return message

                async def sse_trade():
                    async for event in events:
                        if event["event"] == "trade_update":
                            return event

                try:
                    trade_msg, trade_event = await asyncio.wait_for(
                        asyncio.gather(ws_trade(), sse_trade()), TRADE_TIMEOUT
                    )
                except TimeoutError:
                    trades = (await http.get("/api/trades", headers=auth)).json()
                    bot = (await http.get(f"/api/bots/{bot_id}", headers=auth)).json()
                    raise AssertionError(
                        f"no trade on both feeds within {TRADE_TIMEOUT}s; trades: {trades}; bot: {bot}"
                    ) from None
                assert trade_msg["trade"]["symbol"] == "BTC/ZAR" and trade_msg["trade"]["side"] == "buy", trade_msg
                assert trade_event["data"]["type"] == "recent_trades" and trade_event["data"]["count"] >= 1
                assert trade_event["id"] and int(trade_event["id"]) >= 1, trade_event

            r = await http.get("/api/trades", headers=auth)
            assert r.status_code == 200 and r.json()["total"] >= 1, r.text
            trade = r.json()["trades"][0]
            assert trade["bot_id"] == bot_id and trade["price_source"] == "simulated", trade

            # 5. /metrics through nginx (loopback is allowed): the worker's counters, aggregated across processes.
            async def counted():
                r = await http.get("/metrics")
                assert r.status_code == 200, (r.status_code, r.text[:300])
                ticks = _counter_total(r.text, "amarktai_bot_ticks_total")
                orders = _counter_total(r.text, "amarktai_orders_total", mode="paper")
                return (ticks, orders) if ticks > 0 and orders > 0 else None

            found = await _wait_async(counted, 10, 0.5)
            if not found:
                text = (await http.get("/metrics")).text
                lines = [line for line in text.splitlines() if "bot_ticks" in line or "orders_total" in line]
                raise AssertionError(
                    "/metrics lacks the worker's amarktai_bot_ticks_total / amarktai_orders_total > 0 "
                    f"(PROMETHEUS_MULTIPROC_DIR shared by every process): {lines}"
                )

            # 6. The operator's self-check, against this very stack (before the worker goes).
            from django.core.management import get_commands

            if "doctor" in get_commands():
                result = await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, "manage.py", "doctor"],
                    cwd=servers.ROOT,
                    env=stack.env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert result.returncode == 0, f"manage.py doctor failed:\n{result.stdout}{result.stderr}"
                print(f"manage.py doctor:\n{result.stdout}")

            # 7. The worker stops: the components view turns degraded within a bounded wait (the Celery ping answer
            # is cached CELERY_HEALTH_CACHE_SECONDS=1 here); the public load-balancer check stays up.
            await asyncio.to_thread(stack.processes.stop, "worker")

            async def celery_down():
                body = await _components(http, auth)
                return (
                    body if body["status"] == "degraded" and body["components"]["celery"]["status"] == "down" else None
                )

            degraded = await _wait_async(celery_down, 15, 0.5)
            assert degraded, (
                f"/api/health/components did not report the stopped worker: {await _components(http, auth)}"
            )
            others = {name: c["status"] for name, c in degraded["components"].items() if name != "celery"}
            assert {"database", "cache", "channel_layer"} <= set(others), others
            assert set(others.values()) == {"ok"}, degraded  # the worker alone is down
            r = await http.get("/api/health")
            assert r.status_code == 200 and r.json()["status"] == "ok", r.text
            assert r.json()["components"] == {"database": "ok", "cache": "ok"}, r.text

    started = time.monotonic()
    try:
        _run(journey())
    except BaseException:
        print(f"the journey failed after {time.monotonic() - started:.1f}s; the processes' output:")
        print(stack.logs())
        raise
