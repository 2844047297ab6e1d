"""Cache access for read-through caches that must not fail a request when Redis is down: the caller falls back to the
database. (Throttles and lockouts use the cache directly and answer 503 while it is down: they must not fail open.)"""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def _outage(exc):
    from amarktai.errors import infrastructure_error

    return infrastructure_error(exc) is not None


def get(key, default=None):
    try:
        return cache.get(key, default)
    except Exception as exc:  # noqa: BLE001
        if not _outage(exc):
            raise
        logger.warning("cache unavailable (%s): reading through", exc.__class__.__name__)
        return default


def set(key, value, timeout):  # noqa: A001 - mirrors the cache API
    try:
        cache.set(key, value, timeout)
    except Exception as exc:  # noqa: BLE001
        if not _outage(exc):
            raise


def incr_or_set(key):
    try:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, None)
    except Exception as exc:  # noqa: BLE001
        if not _outage(exc):
            raise
        logger.warning("cache unavailable (%s): could not invalidate %s", exc.__class__.__name__, key)


def delete_many(keys):
    try:
        cache.delete_many(keys)
    except Exception as exc:  # noqa: BLE001
        if not _outage(exc):
            raise
