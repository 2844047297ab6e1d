"""Channels (WebSocket and SSE), health and Prometheus metrics."""

from amarktai.settings.base import REDIS_URL
from amarktai.settings.env import env, env_float, env_int

__all__ = [
    "ASGI_THREADS",
    "CHANNEL_LAYERS",
    "HEALTH_DB_TIMEOUT_MS",
    "METRICS_TOKEN",
    "PROMETHEUS_MULTIPROC_DIR",
    "REALTIME_EVENTS_MAX_PENDING",
    "REALTIME_RECHECK_SECONDS",
    "SSE_HEARTBEAT_SECONDS",
]

if REDIS_URL:
    # redis-py reads time out after 5 s by default, the same 5 s that channels-redis blocks waiting for a message on an
    # idle channel: without a longer read timeout an idle WebSocket/SSE consumer dies with "Timeout reading" (1011).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Threads of the ASGI process's Django pool (amarktai.asgi_http): how many HTTP requests it serves at once, and so how
# many database connections that pool holds (WebSocket and SSE consumers are not served from it).
ASGI_THREADS = env_int("ASGI_THREADS", 8)
SSE_HEARTBEAT_SECONDS = env_float("SSE_HEARTBEAT_SECONDS", 15)
# How often every open WebSocket/SSE connection validates its credential again (user active, API key not revoked,
# admin still admin); deactivation, revocation and demotion also end connections at once through events.
REALTIME_RECHECK_SECONDS = env_float("REALTIME_RECHECK_SECONDS", 15)
# How many user events one WebSocket/SSE connection may have waiting (a slow client, a burst such as a tick of many bots
# of one user) before its oldest pending event is dropped and counted (realtime.hub,
# amarktai_realtime_hub_dropped_total).
REALTIME_EVENTS_MAX_PENDING = env_int("REALTIME_EVENTS_MAX_PENDING", 10_000)
# How long /api/health and /api/health/components wait for the database probe (a read of a real table on a connection
# of its own) before they report the database down.
HEALTH_DB_TIMEOUT_MS = env_int("HEALTH_DB_TIMEOUT_MS", 1000)
# A bearer token that /metrics requires when set; unset, /metrics answers only loopback and private-network clients.
METRICS_TOKEN = env("METRICS_TOKEN", "")
# prometheus_client's multi-process mode (gunicorn workers): the directory its files live in.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", "")
