"""Channels (WebSocket and SSE), health and Prometheus metrics."""

from amarktai.settings.base import REDIS_URL
from amarktai.settings.env import env, env_float

__all__ = ["CHANNEL_LAYERS", "METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR", "SSE_HEARTBEAT_SECONDS"]

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

SSE_HEARTBEAT_SECONDS = env_float("SSE_HEARTBEAT_SECONDS", 15)
# A bearer token that /metrics requires when set (else it is open to the loopback/nginx allow list).
METRICS_TOKEN = env("METRICS_TOKEN", "")
# prometheus_client's multi-process mode (gunicorn workers): the directory its files live in.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", "")
