"""Benchmark settings: the real settings plus a bare DRF hello-world route to compare against."""

from amarktai.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
SECURE_SSL_REDIRECT = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
