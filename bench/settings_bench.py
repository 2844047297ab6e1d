"""Benchmark settings: the real settings plus a bare DRF hello-world route to compare against."""

import os

from amarktai.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
SECURE_SSL_REDIRECT = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

# bench_ws_fanout.py --layer pubsub: the same Redis through channels-redis' pub/sub layer, to compare with the core one.
if REDIS_URL and os.environ.get("BENCH_CHANNEL_LAYER") == "pubsub":  # noqa: F405
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}]},  # noqa: F405
        }
    }
