"""Redis stops and comes back: the API answers clear 503s in the error schema meanwhile, then recovers by itself, and
the real-time feed delivers again. Uses a private redis-server on a free port (Debian's redis-server must be
installed)."""

import shutil
import socket
import subprocess
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from django.core.cache import caches
from django.test import override_settings

from tests.helpers import assert_error, client_for
from tests.servers import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server not installed"),
]


class RedisProcess:
    def __init__(self):
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None


@pytest.fixture
def redis_server():
    server = RedisProcess()
    server.start()
    yield server
    server.stop()


def _reset_backends():
    caches["default"].close()
    try:
        del caches["default"]
    except (AttributeError, KeyError):
        pass
    channel_layers.backends.clear()


@pytest.mark.django_db
def test_api_and_feed_survive_a_redis_restart(redis_server, user):
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    redis_settings = {
        "CACHES": {
            "default": {
                "BACKEND": "amarktai.redis_cache.RedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            }
        },
        "CHANNEL_LAYERS": {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}},
    }
    with override_settings(**redis_settings):
        _reset_backends()
        try:
            client = client_for(user)
            login = {"email": user.email, "password": user.raw_password}
            assert client.post("/api/auth/login", login, format="json").status_code == 200
            assert client.get("/api/system/status").json()["status"]["websocket"] == "active"

            redis_server.stop()
            # Login needs the cache (throttles, lockout): a clear 503, never a 500 or a traceback.
            response = client.post("/api/auth/login", login, format="json")
            body = assert_error(response, 503, "SERVICE_UNAVAILABLE")
            assert "retry" in body["error"].lower() and response["Retry-After"]
            # Endpoints that only need the database keep working; status reports the outage.
            status = client.get("/api/system/status")
            assert status.status_code == 200
            assert status.json()["status"]["websocket"] == "unavailable"
            assert client.get("/api/auth/me").status_code == 200

            redis_server.start()
            deadline = time.time() + 10
            while True:
                response = client.post("/api/auth/login", login, format="json")
                if response.status_code == 200 or time.time() > deadline:
                    break
                time.sleep(0.2)
            assert response.status_code == 200
            channel_layers.backends.clear()
            assert client.get("/api/system/status").json()["status"]["websocket"] == "active"

            # The real-time path works again end to end: a group message reaches a member.
            layer = channel_layers["default"]

            async def round_trip():
                channel = await layer.new_channel()
                await layer.group_add(f"user.{user.pk}", channel)
                await layer.group_send(f"user.{user.pk}", {"type": "amarktai.event", "event": "alert"})
                return await layer.receive(channel)

            assert async_to_sync(round_trip)()["event"] == "alert"
        finally:
            _reset_backends()


def test_pooled_cache_client_is_reused(redis_server):
    from amarktai.redis_cache import RedisCache

    backend = RedisCache(f"redis://127.0.0.1:{redis_server.port}/0", {})
    backend.set("k", {"v": 1}, 10)
    assert backend.get("k") == {"v": 1}
    client = backend._cache.get_client("k")
    assert backend._cache.get_client("other") is client  # one redis.Redis per pool, not one per call


def test_backends_of_all_threads_share_one_client_and_its_connections(redis_server):
    """Django makes a cache backend per thread, and Daphne runs each request in a new thread: the backends must share
    the client (its pools), or every request opens a new Redis connection."""
    import threading

    import redis

    from amarktai.redis_cache import RedisCache

    url = f"redis://127.0.0.1:{redis_server.port}/0"
    clients = []

    def request():
        backend = RedisCache(url, {})  # what CacheHandler builds for a new thread
        backend.set("k", 1, 10)
        clients.append(backend._cache)

    for _ in range(5):
        thread = threading.Thread(target=request)
        thread.start()
        thread.join()
    assert all(client is clients[0] for client in clients)
    connected = redis.Redis.from_url(url).info("clients")["connected_clients"]
    assert connected <= 2  # this check's own connection and the one the five "requests" took turns on
