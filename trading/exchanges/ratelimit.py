"""The rate limiter every process shares: token buckets per (exchange, API key) and per (exchange, egress IP).

Exchanges limit requests per API key and per IP address, across every process that uses them. So the buckets live in
Redis when settings.REDIS_URL is set (one Lua script takes from every bucket of a call atomically, on Redis's clock),
and in this process in the embedded default (the same algorithm under a lock: there is one process there).

- A bucket holds at most ``burst`` tokens and refills ``rate`` tokens a second. A call costs ccxt's weight of its
  endpoint (``calculate_rate_limiter_cost``: Binance's per-endpoint ``cost``, ``noSymbol``, ``byLimit``...; 1 for the
  others and for the brokers). A call costlier than the whole bucket waits for a full bucket and leaves it in debt.
- Sizes: ``rate`` = 1000 / ccxt's ``rateLimit`` (milliseconds between two cost-1 requests) and ``burst`` = ``rate`` x
  settings.EXCHANGE_RATE_BURST_SECONDS; settings.EXCHANGE_RATE_LIMITS = {"binance": (rate, burst)} overrides both
  scopes, settings.EXCHANGE_IP_RATE_LIMITS the IP scope only. Brokers without ccxt pass their own defaults.
- Public calls take from the IP bucket only; calls carrying the key (private) take from both, all or nothing.
- A 429/418 (ccxt's DDoSProtection / RateLimitExceeded, a broker's 429) backs off every bucket the call took from, for
  the whole platform: for the answer's Retry-After when it sent one, else settings.EXCHANGE_RATE_BACKOFF_SECONDS doubled
  per repeat (at most EXCHANGE_RATE_BACKOFF_MAX_SECONDS). Until then every process's calls on that key or IP wait (at
  most settings.EXCHANGE_RATE_WAIT_SECONDS) or fail with RateLimited carrying the seconds left.
- Identities: API keys are never stored or shown: a bucket is named by an HMAC (settings.SECRET_KEY) of the exchange
  and key, 16 hex characters. The egress is settings.EXCHANGE_EGRESS_ID ("local" by default): hosts sharing one public
  address must share the value, hosts with their own address set their own.
- State shows in Prometheus (realtime.metrics RATELIMIT_*) and in /api/health/components ("rate_limits").
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import logging
import math
import random
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from amarktai.errors import RateLimited
from realtime import metrics

logger = logging.getLogger(__name__)

KEY, IP = "key", "ip"
PREFIX = "amk:rl:"
INDEX = PREFIX + "index"  # sorted set: bucket name -> last use (epoch seconds), for the health report
DEFAULT_LIMITS = (10.0, 20.0)


@dataclass(frozen=True)
class Bucket:
    exchange: str
    scope: str  # KEY | IP
    ident: str  # the key's HMAC id, or the egress id
    rate: float  # tokens a second
    burst: float  # capacity

    @property
    def name(self) -> str:
        return f"{self.exchange}:{self.scope}:{self.ident}"


def key_id(exchange: str, api_key: str) -> str:
    """The public name of an API key's bucket: an HMAC of exchange and key (never the key)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{exchange}\0{api_key}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def egress_id() -> str:
    return settings.EXCHANGE_EGRESS_ID or "local"


def limits_for(exchange: str, scope: str, rate_limit_ms: float | None = None, default=DEFAULT_LIMITS):
    """(rate, burst) of ``exchange``'s bucket of ``scope``: settings first, then ccxt's ``rateLimit``, then default."""
    if scope == IP and exchange in settings.EXCHANGE_IP_RATE_LIMITS:
        rate, burst = settings.EXCHANGE_IP_RATE_LIMITS[exchange]
    elif exchange in settings.EXCHANGE_RATE_LIMITS:
        rate, burst = settings.EXCHANGE_RATE_LIMITS[exchange]
    elif rate_limit_ms:
        rate = 1000.0 / float(rate_limit_ms)
        burst = max(1.0, rate * float(settings.EXCHANGE_RATE_BURST_SECONDS))
    else:
        rate, burst = default
    return float(rate), max(1.0, float(burst))


def parse_retry_after(headers) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not headers:
        return None
    value = None
    for name, raw in dict(headers).items():
        if str(name).lower() == "retry-after":
            value = str(raw).strip()
            break
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# --- backends ------------------------------------------------------------------------------------------------------
# take: KEYS = the buckets then the index; ARGV = every bucket's (rate, burst, cost, index member). All or nothing.
# Returns (granted, wait_seconds, tokens_after...).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = #KEYS - 1
local wait = 0
local tokens = {}
for i = 1, n do
  local rate = tonumber(ARGV[(i - 1) * 4 + 1])
  local burst = tonumber(ARGV[(i - 1) * 4 + 2])
  local cost = tonumber(ARGV[(i - 1) * 4 + 3])
  local h = redis.call('HMGET', KEYS[i], 'tokens', 'ts', 'until')
  local have = tonumber(h[1]) or burst
  local ts = tonumber(h[2]) or now
  local untl = tonumber(h[3]) or 0
  have = math.min(burst, have + math.max(0, now - ts) * rate)
  tokens[i] = have
  if untl > now then wait = math.max(wait, untl - now) end
  local need = math.min(cost, burst)
  if have < need then wait = math.max(wait, (need - have) / rate) end
end
local out = {}
if wait > 0 then
  out[1] = 0
  out[2] = tostring(wait)
  for i = 1, n do out[i + 2] = tostring(tokens[i]) end
  return out
end
out[1] = 1
out[2] = '0'
for i = 1, n do
  local rate = tonumber(ARGV[(i - 1) * 4 + 1])
  local burst = tonumber(ARGV[(i - 1) * 4 + 2])
  local cost = tonumber(ARGV[(i - 1) * 4 + 3])
  local left = tokens[i] - cost
  redis.call('HSET', KEYS[i], 'tokens', tostring(left), 'ts', tostring(now), 'rate', tostring(rate),
    'burst', tostring(burst))
  local ttl = math.ceil((burst - left) / rate) + 60
  local untl = tonumber(redis.call('HGET', KEYS[i], 'until')) or 0
  if untl > now then ttl = ttl + math.ceil(untl - now) end
  redis.call('EXPIRE', KEYS[i], ttl)
  redis.call('ZADD', KEYS[n + 1], now, ARGV[(i - 1) * 4 + 4])
  out[i + 2] = tostring(left)
end
redis.call('ZREMRANGEBYSCORE', KEYS[n + 1], 0, now - 3600)
return out
"""
# backoff: ARGV = seconds ('' = none sent), base, max. Returns every bucket's new until (epoch seconds) and now.
_BACKOFF = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local sent = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local out = {tostring(now)}
for i = 1, #KEYS do
  local h = redis.call('HMGET', KEYS[i], 'until', 'strikes')
  local untl = tonumber(h[1]) or 0
  local strikes = tonumber(h[2]) or 0
  if untl < now - cap then strikes = 0 end
  strikes = strikes + 1
  local seconds = sent
  if not seconds then seconds = math.min(cap, base * 2 ^ (strikes - 1)) end
  untl = math.max(untl, now + seconds)
  redis.call('HSET', KEYS[i], 'until', tostring(untl), 'strikes', tostring(strikes))
  redis.call('EXPIRE', KEYS[i], math.ceil(untl - now + cap) + 60)
  out[i + 1] = tostring(untl)
end
return out
"""


class LocalBackend:
    """The embedded default's buckets: the Lua scripts' algorithm in this process, under one lock."""

    kind = "local"

    def __init__(self):
        self.lock = threading.Lock()
        self.state: dict[str, dict] = {}
        self.used: dict[str, tuple[float, Bucket]] = {}

    def take(self, buckets, costs):
        with self.lock:
            now = time.time()
            wait, tokens = 0.0, []
            for bucket, cost in zip(buckets, costs, strict=True):
                st = self.state.setdefault(bucket.name, {"tokens": bucket.burst, "ts": now, "until": 0.0})
                have = min(bucket.burst, st["tokens"] + max(0.0, now - st["ts"]) * bucket.rate)
                tokens.append(have)
                if st["until"] > now:
                    wait = max(wait, st["until"] - now)
                need = min(cost, bucket.burst)
                if have < need:
                    wait = max(wait, (need - have) / bucket.rate)
            if wait > 0:
                return False, wait, tokens
            left = []
            for bucket, cost, have in zip(buckets, costs, tokens, strict=True):
                st = self.state[bucket.name]
                st.update(tokens=have - cost, ts=now)
                left.append(have - cost)
                self.used[bucket.name] = (now, bucket)
            return True, 0.0, left

    def backoff(self, buckets, seconds, base, cap):
        with self.lock:
            now = time.time()
            until = []
            for bucket in buckets:
                st = self.state.setdefault(bucket.name, {"tokens": bucket.burst, "ts": now, "until": 0.0})
                strikes = 0 if st["until"] < now - cap else st.get("strikes", 0)
                st["strikes"] = strikes + 1
                wait = seconds if seconds is not None else min(cap, base * 2 ** (st["strikes"] - 1))
                st["until"] = max(st["until"], now + wait)
                self.used[bucket.name] = (now, bucket)
                until.append(st["until"])
            return now, until

    def snapshot(self, limit):
        with self.lock:
            now = time.time()
            rows = []
            for _, (_used, bucket) in sorted(self.used.items(), key=lambda kv: -kv[1][0])[:limit]:
                st = self.state.get(bucket.name, {})
                have = min(bucket.burst, st.get("tokens", bucket.burst) + (now - st.get("ts", now)) * bucket.rate)
                rows.append(
                    _row(
                        bucket.exchange,
                        bucket.scope,
                        bucket.ident,
                        bucket.rate,
                        bucket.burst,
                        have,
                        st.get("until", 0.0) - now,
                    )
                )
            return rows

    def reset(self):
        with self.lock:
            self.state.clear()
            self.used.clear()


class RedisBackend:
    """Buckets in Redis (hashes ``amk:rl:<exchange>:<scope>:<id>``), changed only by the two Lua scripts."""

    kind = "redis"

    def __init__(self, client):
        self.client = client
        self._take = client.register_script(_TAKE)
        self._backoff = client.register_script(_BACKOFF)

    def take(self, buckets, costs):
        args = []
        for bucket, cost in zip(buckets, costs, strict=True):
            args += [repr(bucket.rate), repr(bucket.burst), repr(float(cost)), _member(bucket)]
        out = self._take(keys=[PREFIX + b.name for b in buckets] + [INDEX], args=args)
        return int(out[0]) == 1, float(out[1]), [float(x) for x in out[2:]]

    def backoff(self, buckets, seconds, base, cap):
        sent = "" if seconds is None else repr(float(seconds))
        out = self._backoff(keys=[PREFIX + b.name for b in buckets], args=[sent, repr(base), repr(cap)])
        self.client.zadd(INDEX, {_member(b): float(out[0]) for b in buckets})
        return float(out[0]), [float(x) for x in out[1:]]

    def snapshot(self, limit):
        members = self.client.zrevrange(INDEX, 0, limit - 1)
        names = [m.decode() if isinstance(m, bytes) else m for m in members]
        pipe = self.client.pipeline(transaction=False)
        pipe.time()
        for name in names:
            pipe.hmget(PREFIX + name.split("|")[0], "tokens", "ts", "until")
        res = pipe.execute()
        now = res[0][0] + res[0][1] / 1e6
        rows, seen = [], set()
        for name, (tokens, ts, until) in zip(names, res[1:], strict=True):
            bucket_name, rate, burst = name.split("|")
            if bucket_name in seen:
                continue
            seen.add(bucket_name)
            exchange, scope, ident = bucket_name.split(":", 2)
            rate_f, burst_f = float(rate), float(burst)
            have = burst_f if tokens is None else min(burst_f, float(tokens) + (now - float(ts)) * rate_f)
            rows.append(_row(exchange, scope, ident, rate_f, burst_f, have, float(until or 0) - now))
        return rows

    def reset(self):
        keys = list(self.client.scan_iter(match=PREFIX + "*", count=500))
        if keys:
            self.client.delete(*keys)


def _member(bucket):
    """The index's member for a bucket: its name, rate and burst (the health report shows them)."""
    return f"{bucket.name}|{bucket.rate!r}|{bucket.burst!r}"


def _row(exchange, scope, ident, rate, burst, tokens, backoff):
    return {
        "exchange": exchange,
        "scope": scope,
        "bucket": ident,
        "rate_per_second": round(rate, 3),
        "burst": round(burst, 3),
        "tokens": round(tokens, 3),
        "backoff_seconds": round(max(0.0, backoff), 3),
    }


_local = LocalBackend()
_redis: dict[int, RedisBackend] = {}


def backend():
    """The Redis backend when the cache is Redis (settings.REDIS_URL), else this process's."""
    if settings.REDIS_URL:
        from amarktai.cache import _redis_client

        client = _redis_client()
        if client is not None:
            found = _redis.get(id(client))
            if found is None:
                found = _redis[id(client)] = RedisBackend(client)
            return found
    return _local


def reset():
    """Forget every bucket (tests)."""
    _local.reset()
    if settings.REDIS_URL:
        b = backend()
        if b is not _local:
            b.reset()


_warned_at = -1e9


def _with_fallback(op, *args):
    """Run ``op`` on the shared backend; when Redis does not answer, on this process's buckets (calls keep a limit)."""
    b = backend()
    try:
        return getattr(b, op)(*args)
    except Exception as exc:
        if b is _local:
            raise
        global _warned_at
        if time.monotonic() - _warned_at > 60:  # once a minute, not once a call
            _warned_at = time.monotonic()
            logger.warning("rate limiter: Redis unavailable (%s); limiting in this process", exc.__class__.__name__)
        metrics.ERRORS.labels(area="ratelimit").inc()
        return getattr(_local, op)(*args)


# --- the limiter an adapter holds ----------------------------------------------------------------------------------
class Limiter:
    """An adapter's view of the shared buckets: its exchange's IP bucket and, with a key, the key's bucket."""

    def __init__(
        self,
        exchange: str,
        api_key: str | None = None,
        rate_limit_ms=None,
        default=DEFAULT_LIMITS,
        name: str | None = None,
        host: str = "",
    ):
        self.exchange = exchange
        self.name = name or exchange
        self.backoff_until = 0.0
        self.max_wait: float | None = None  # None: settings.EXCHANGE_RATE_WAIT_SECONDS
        rate, burst = limits_for(exchange, IP, rate_limit_ms, default)
        # ``host``: another host of the same exchange with limits of its own (a testnet): its own IP bucket.
        self.ip = Bucket(exchange, IP, f"{egress_id()}-{host}" if host else egress_id(), rate, burst)
        self.key = None
        if api_key:
            rate, burst = limits_for(exchange, KEY, rate_limit_ms, default)
            self.key = Bucket(exchange, KEY, key_id(exchange, api_key), rate, burst)

    def buckets(self, private: bool) -> list[Bucket]:
        return [self.key, self.ip] if private and self.key is not None else [self.ip]

    def take(self, cost: float = 1.0, private: bool = True, max_wait: float | None = None) -> float:
        """Take ``cost`` tokens from the call's buckets, waiting while they are empty or backing off. Returns the
        seconds waited; raises RateLimited (with the seconds to wait) when that would pass ``max_wait``."""
        buckets = self.buckets(private)
        costs = [float(cost)] * len(buckets)
        if max_wait is None:
            max_wait = self.max_wait if self.max_wait is not None else settings.EXCHANGE_RATE_WAIT_SECONDS
        limit = float(max_wait)
        started = time.monotonic()
        while True:
            granted, wait, tokens = _with_fallback("take", buckets, costs)
            waited = time.monotonic() - started
            if granted:
                for bucket, left in zip(buckets, tokens, strict=True):
                    metrics.RATELIMIT_CALLS.labels(exchange=self.exchange, scope=bucket.scope).inc()
                    metrics.RATELIMIT_COST.labels(exchange=self.exchange, scope=bucket.scope).inc(float(cost))
                    metrics.RATELIMIT_TOKENS.labels(
                        exchange=self.exchange, scope=bucket.scope, bucket=bucket.ident
                    ).set(left)
                metrics.RATELIMIT_WAIT.labels(exchange=self.exchange).observe(waited)
                return waited
            if waited + wait > limit:
                metrics.RATELIMIT_REFUSED.labels(exchange=self.exchange).inc()
                self.backoff_until = max(self.backoff_until, time.monotonic() + wait)
                raise RateLimited(
                    f"Too many requests to {self.name}; try again shortly", retry_after=max(1, math.ceil(wait))
                )
            time.sleep(wait + random.random() * 0.005)

    def backoff(self, private: bool = True, retry_after: float | None = None, reason: str = "429") -> float:
        """A 429/418 answer: back off every bucket the call took from; returns the seconds until they open again."""
        buckets = self.buckets(private)
        now, until = _with_fallback(
            "backoff",
            buckets,
            retry_after,
            float(settings.EXCHANGE_RATE_BACKOFF_SECONDS),
            float(settings.EXCHANGE_RATE_BACKOFF_MAX_SECONDS),
        )
        for bucket, end in zip(buckets, until, strict=True):
            metrics.RATELIMIT_BACKOFFS.labels(exchange=self.exchange, scope=bucket.scope, reason=reason).inc()
            metrics.RATELIMIT_BACKOFF_UNTIL.labels(exchange=self.exchange, scope=bucket.scope, bucket=bucket.ident).set(
                end
            )
        seconds = max(until) - now
        self.backoff_until = time.monotonic() + seconds
        logger.warning(
            "%s answered %s: backing off %s for %.1f s%s",
            self.exchange,
            reason,
            "+".join(b.scope for b in buckets),
            seconds,
            " (Retry-After)" if retry_after is not None else "",
        )
        return seconds

    def retry_after(self) -> int:
        """Whole seconds until the last back-off this limiter saw ends (at least 1): a RateLimited's retry_after."""
        return max(1, math.ceil(self.backoff_until - time.monotonic()))


# --- ccxt ------------------------------------------------------------------------------------------------------------
_private_calls: dict[tuple, bool] = {}
_private_lock = threading.Lock()


def _is_private(client, path, api, method, params) -> bool:
    """Whether a ccxt endpoint call carries the API key (then it also counts against the key's bucket). Learnt once
    per (exchange, api, method, path) by signing a copy of the request: the key (or an Authorization header) in it,
    or an api section named private, makes it private."""
    if not client.apiKey:
        return False
    api_name = "/".join(api) if isinstance(api, (list, tuple)) else str(api)
    cache_key = (client.id, api_name, str(method), str(path))
    with _private_lock:
        known = _private_calls.get(cache_key)
    if known is not None:
        return known
    if "private" in api_name.lower():
        private = True
    else:
        try:
            probe = client.sign(path, api, method, dict(params) if isinstance(params, dict) else params)
        except Exception:  # noqa: BLE001 - sign refused (credentials required): private
            private = True
        else:
            headers = {str(k).lower(): str(v) for k, v in (probe.get("headers") or {}).items()}
            text = " ".join([str(probe.get("url") or ""), str(probe.get("body") or ""), *headers.values()])
            private = client.apiKey in text or "authorization" in headers or "signature" in text.lower()
    with _private_lock:
        _private_calls[cache_key] = private
    return private


def install(client, limiter: Limiter, rate_limited_errors: tuple) -> None:
    """Route every REST request of a ccxt ``client`` (its ``fetch2``) through ``limiter``; ccxt's own in-process
    throttle is switched off (the shared buckets replace it). A DDoSProtection/RateLimitExceeded answer backs off."""
    original = client.fetch2
    client.enableRateLimit = False

    def fetch2(path, api=("public",), method="GET", params=None, config=None):
        params = {} if params is None else params
        config = {} if config is None else config
        cost = client.calculate_rate_limiter_cost(api, method, path, params, config)
        private = _is_private(client, path, api, method, params)
        limiter.take(float(cost if cost is not None else 1), private)
        try:
            return original(path, api, method, params, config)
        except rate_limited_errors as exc:
            reason = "429" if exc.__class__.__name__ == "RateLimitExceeded" else "418"
            limiter.backoff(private, parse_retry_after(client.last_response_headers), reason)
            raise

    client.fetch2 = fetch2


def health(limit: int = 50) -> tuple[bool, dict]:
    """/api/health/components "rate_limits": every bucket used in the last hour (most recent first, at most
    ``limit``). Degraded while an IP bucket backs off (the whole platform is waiting on that exchange)."""
    b = backend()
    try:
        rows = b.snapshot(limit)
        kind = b.kind
    except Exception as exc:  # noqa: BLE001
        return False, {"backend": b.kind, "error": exc.__class__.__name__}
    backing_off = [r for r in rows if r["backoff_seconds"] > 0]
    ok = not any(r["scope"] == IP for r in backing_off)
    return ok, {
        "backend": kind,
        "egress": egress_id(),
        "buckets": rows,
        "backing_off": len(backing_off),
    }


def doctor_check():
    """``manage.py doctor``'s "rate limiter" row: where the buckets live, and whether an IP bucket backs off now."""
    from realtime.doctor import FAIL, OK, WARN, Result

    ok, detail = health()
    if "error" in detail:
        return Result("rate limiter", FAIL, f"the buckets in Redis do not answer ({detail['error']})")
    where = "shared in Redis" if detail["backend"] == "redis" else "in this process (embedded: one process)"
    summary = f"{where}; egress {detail['egress']}; {len(detail['buckets'])} bucket(s) used in the last hour"
    if not ok:
        names = [f"{r['exchange']} {r['scope']}" for r in detail["buckets"] if r["backoff_seconds"] > 0]
        return Result("rate limiter", WARN, f"{summary}; backing off after a 429/418: {', '.join(names)}")
    return Result("rate limiter", OK, summary)
