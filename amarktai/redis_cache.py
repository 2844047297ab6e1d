"""Django's Redis cache backend with one redis.Redis client per connection pool.

Django's RedisCacheClient builds a new redis.Redis object for every cache call; with redis-py 8 that costs ~0.2 ms (it
rebuilds the response-callback table each time), more than the round trip itself on loopback. redis.Redis objects are
thread-safe and share the pool, so one per pool is enough.

Django also makes a new cache backend per thread, and with it new connection pools. Under Daphne every request runs
in a thread of its own, so each request opened a fresh Redis connection (TCP connect and handshake: most of the
request's time). The client, and so its pools, is therefore shared by every backend in the process with the same
servers and options. redis-py pools notice a fork and start afresh in the child.

Every authenticated request reads its user (a pickled model) through here, so two per-read costs are trimmed (issue
17, GET /api/bots): Django's serializer tried ``int(data)`` first, and the ValueError for a pickle formats the repr of
the whole pickle into its message (~20 us for a user); and Django checks every key, character by character, for
memcached's restrictions, which Redis does not have.
"""

import pickle
import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient, RedisSerializer
from django.utils.functional import cached_property


class Serializer(RedisSerializer):
    """Django's (integers as themselves, anything else pickled), reading a pickle without first failing int(): a pickle
    of protocol 2 or more starts with the PROTO opcode (0x80), which no integer's digits do."""

    def loads(self, data):
        if data[:1] == b"\x80":
            return pickle.loads(data)
        return super().loads(data)


class PooledRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}
        self._clients_lock = threading.Lock()

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(index)
                if client is None:
                    client = self._client(connection_pool=self._get_connection_pool(index))
                    self._clients[index] = client
        return client


_shared_clients = {}
_shared_lock = threading.Lock()


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = PooledRedisCacheClient
        self._options.setdefault("serializer", Serializer)

    def validate_key(self, key):
        """Redis takes any key (binary safe, up to 512 MB): memcached's checks (250 characters, no spaces or control
        characters, a warning each) do not apply, and cost a Python loop over every character of every key."""

    @cached_property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _shared_clients.get(key)
        if client is None:
            with _shared_lock:
                client = _shared_clients.get(key)
                if client is None:
                    client = _shared_clients[key] = self._class(self._servers, **self._options)
        return client
