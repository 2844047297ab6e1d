"""Guards around calls to real exchanges: a circuit breaker per platform whose state lives in the Django cache (Redis
in production), so every process sees the same open circuit, and a plain in-process token bucket. The adapters' rate
limit is the shared one of trading.exchanges.ratelimit (per API key and per egress IP, across processes).

Circuit: CLOSED -> after ``threshold`` consecutive failures -> OPEN (calls fail fast) -> after ``cooldown`` seconds one
probe call is let through (HALF-OPEN) -> success closes it, failure opens it again for another cool-down.
"""

import threading
import time

from django.core.cache import cache


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked. ``acquire`` waits for a token (at most ``max_wait``)."""

    def __init__(self, rate, burst):
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self, max_wait=30.0):
        deadline = time.monotonic() + max_wait
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return True
                wait = (1 - self.tokens) / self.rate
            if time.monotonic() + wait > deadline:
                return False
            time.sleep(wait)


_buckets = {}
_buckets_lock = threading.Lock()


def bucket_for(platform_id, rate, burst):
    with _buckets_lock:
        bucket = _buckets.get(platform_id)
        if bucket is None or (bucket.rate, bucket.burst) != (float(rate), float(burst)):
            bucket = _buckets[platform_id] = TokenBucket(rate, burst)
        return bucket


def reset_buckets():
    """Forget this process's buckets and the shared rate limiter's (trading.exchanges.ratelimit; tests)."""
    from trading.exchanges import ratelimit

    with _buckets_lock:
        _buckets.clear()
    ratelimit.reset()


class CircuitBreaker:
    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, name, threshold=5, cooldown=30.0):
        self.name = name
        self.threshold = int(threshold)
        self.cooldown = float(cooldown)
        self._fails = f"exch:cb:{name}:fails"
        self._open_until = f"exch:cb:{name}:open_until"
        self._probe = f"exch:cb:{name}:probe"

    def state(self):
        open_until = cache.get(self._open_until)
        if open_until is None:
            return self.CLOSED
        return self.OPEN if time.time() < open_until else self.HALF_OPEN

    def allow(self):
        """True if a call may go out now. In HALF-OPEN only one caller (the probe) gets through per cool-down."""
        state = self.state()
        if state == self.CLOSED:
            return True
        if state == self.OPEN:
            return False
        return cache.add(self._probe, 1, timeout=max(1, int(self.cooldown)))

    def retry_after(self):
        open_until = cache.get(self._open_until)
        return max(1, int((open_until or time.time()) - time.time()) + 1)

    def record_success(self):
        cache.delete_many([self._fails, self._open_until, self._probe])

    def record_failure(self):
        if self.state() == self.HALF_OPEN:
            self._open()
            return
        cache.add(self._fails, 0, timeout=None)
        try:
            fails = cache.incr(self._fails)
        except ValueError:  # evicted between add and incr
            cache.set(self._fails, 1, timeout=None)
            fails = 1
        if fails >= self.threshold:
            self._open()

    def _open(self):
        # Keep the marker past the cool-down so the half-open state is visible; a success clears it.
        cache.set(self._open_until, time.time() + self.cooldown, timeout=int(self.cooldown * 20) + 60)
        cache.delete(self._probe)
        cache.set(self._fails, 0, timeout=None)
