"""Cache access for read-through caches that must not fail a request when Redis is down: the caller falls back to the
database. (Throttles and lockouts use the cache directly and answer 503 while it is down: they must not fail open.)"""

import contextlib
import itertools
import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def _outage(exc):
    from amarktai.errors import infrastructure_error

    return infrastructure_error(exc) is not None


@contextlib.contextmanager
def _surviving_outage(consequence=None):
    """Swallow a cache outage (logging ``consequence`` if given); any other error propagates."""
    try:
        yield
    except Exception as exc:
        if not _outage(exc):
            raise
        if consequence:
            logger.warning("cache unavailable (%s): %s", exc.__class__.__name__, consequence)


def get(key, default=None):
    with _surviving_outage("reading through"):
        return cache.get(key, default)
    return default


def set(key, value, timeout):
    with _surviving_outage():
        cache.set(key, value, timeout)


def set_many(values, timeout):
    with _surviving_outage():
        cache.set_many(values, timeout)


def incr_or_set(key):
    _note_write()
    with _surviving_outage(f"could not invalidate {key}"):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, None)


def _redis_client():
    """The raw redis client of the default cache when it is Redis (for a pipeline), else None."""
    from django.core.cache import DEFAULT_CACHE_ALIAS, caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches[DEFAULT_CACHE_ALIAS]
    return backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None


def incr_or_set_many(keys):
    """incr_or_set for many keys, in one round trip when the cache is Redis: a pipeline of INCRs (INCR starts a missing
    key at 1 without expiry, as incr_or_set does). The bot engine's batched tick invalidates its owners' lists so."""
    keys = list(keys)
    if not keys:
        return
    _note_write()
    with _surviving_outage(f"could not invalidate {len(keys)} keys"):
        client = _redis_client()
        if client is None:
            for key in keys:
                try:
                    cache.incr(key)
                except ValueError:
                    cache.set(key, 1, None)
            return
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.incr(cache.make_and_validate_key(key))
        pipe.execute()


def delete_many(keys):
    _note_write()
    with _surviving_outage():
        cache.delete_many(keys)


def get_many(keys):
    """cache.get_many that reads through (returns {}) while the cache is down."""
    with _surviving_outage("reading through"):
        return cache.get_many(keys)
    return {}


# --- One round trip per authenticated read -------------------------------------------------------------------------
# Authentication has to read the user's cached row from Redis anyway. Apps register other small per-user keys that
# their hot reads need (the bot list's version, say); authentication fetches them all with one MGET and pins the
# values on the request's user object, so those reads cost no further round trip. The values are as of the moment
# the request was authenticated, microseconds earlier: exactly what a separate GET would have seen.

_per_user_keys = []
_MISSING = object()
_writes = itertools.count(1)  # bumped by every invalidation this process makes (0 means none yet)
_last_write = [0]


def _note_write():
    _last_write[0] = next(_writes)


def register_per_user_key(key_for_user_id):
    """Register ``key_for_user_id(user_id) -> cache key`` to be fetched together with the authenticated user."""
    if key_for_user_id not in _per_user_keys:
        _per_user_keys.append(key_for_user_id)


def per_user_keys(user_id):
    return [key_for(user_id) for key_for in _per_user_keys]


def pin(user, keys, found):
    """Remember, on this request's user object, what the cache held for ``keys`` (absent keys as None)."""
    # id(user) ties the pin to this very object: a copy (say, pickled into a cache and loaded elsewhere) ignores it.
    user._cache_pinned = ({key: found.get(key) for key in keys}, _last_write[0], id(user))


def pinned_get(user, key):
    """The value pinned for ``key`` by authentication, else a cache read: for a user not loaded by a request, or once
    this process has invalidated anything since (a request that writes, then reads, must see its own write)."""
    pinned = getattr(user, "_cache_pinned", None)
    if pinned is not None and pinned[1] == _last_write[0] and pinned[2] == id(user):
        value = pinned[0].get(key, _MISSING)
        if value is not _MISSING:
            return value
    return get(key)
