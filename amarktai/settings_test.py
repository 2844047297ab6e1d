"""Test settings: the same as production/embedded (chosen by the same env vars)
with fast hashing and no TLS redirect."""

import os

from amarktai.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks called with .delay() run in-process in tests; tests that need real workers start them explicitly.
CELERY_TASK_ALWAYS_EAGER = True
# Webhook receivers in tests listen on 127.0.0.1 (the SSRF guard's own tests switch this off).
NOTIFY_ALLOW_PRIVATE_TARGETS = True
# Pages render without a collectstatic run (the production storage needs its manifest with DEBUG off);
# tests/system/test_static_release.py checks the production storage.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}}  # noqa: F405
# A file-based SQLite test database: concurrency tests need SQLite's busy timeout, which the shared-cache in-memory
# database does not honour (it fails with "table is locked" instead of waiting).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
# No market-data service runs in tests: bots fetch their candles over REST as without it. The service's own tests
# (tests/trading/test_market_data_service.py) switch it on.
MARKET_DATA_SERVICE = False
