"""The shared rate limiter (trading.exchanges.ratelimit) with the real ccxt adapter against the fake Binance.

These run in both passes: embedded (the in-process buckets) and with REDIS_URL (the Redis buckets and their Lua
scripts): the same semantics either way. The cross-process tests are in test_ratelimit_processes.py.
"""

import json
import threading
import time

import pytest
from prometheus_client import REGISTRY, generate_latest

from amarktai.errors import RateLimited
from tests.fake_alpaca.fixtures import fake_alpaca  # noqa: F401
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from trading.exchanges import ratelimit
from trading.exchanges.ccxt_adapter import CcxtExchange

pytestmark = pytest.mark.django_db
OTHER_KEY, OTHER_SECRET = "fake-api-key-0002", "fake-api-secret-0002-abcdefghijklmnop"
ACCOUNT, TICKER = "/api/v3/account", "/api/v3/ticker/24hr"


@pytest.fixture(autouse=True)
def _fresh_buckets():
    ratelimit.reset()
    yield
    ratelimit.reset()


def _bucket(scope, exchange="binance"):
    rows = [r for r in ratelimit.health()[1]["buckets"] if r["exchange"] == exchange and r["scope"] == scope]
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def test_sizes_come_from_ccxt_and_settings_override_them(settings):
    settings.EXCHANGE_RATE_BURST_SECONDS = 2
    # ccxt's binance: rateLimit 50 ms -> 20 cost units a second, a burst of 2 s of them
    assert ratelimit.limits_for("binance", ratelimit.KEY, 50) == (20.0, 40.0)
    settings.EXCHANGE_RATE_LIMITS = {"binance": (5, 10)}
    settings.EXCHANGE_IP_RATE_LIMITS = {"binance": (50, 100)}
    assert ratelimit.limits_for("binance", ratelimit.KEY, 50) == (5.0, 10.0)
    assert ratelimit.limits_for("binance", ratelimit.IP, 50) == (50.0, 100.0)
    assert ratelimit.limits_for("alpaca", ratelimit.KEY, None, (3, 20)) == (3.0, 20.0)
    assert CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET).limiter.key.rate == 5.0
    # a testnet is another host with limits of its own: its own IP bucket
    assert CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, testnet=True).limiter.ip.ident == "local-testnet"
    assert CcxtExchange("binance").limiter.ip.ident == "local"


def test_env_format_is_parsed():
    from amarktai.settings.exchanges import _rate_limits

    assert _rate_limits("binance=20:40, luno=5") == {"binance": (20.0, 40.0), "luno": (5.0, 5.0)}
    assert _rate_limits("") == {}
    with pytest.raises(ValueError):
        _rate_limits("binance=fast")


def test_burst_then_rate(settings):
    settings.EXCHANGE_RATE_LIMITS = {"binance": (20, 5)}
    limiter = ratelimit.Limiter("binance")
    started = time.monotonic()
    for _ in range(5):
        limiter.take(1, private=False)
    assert time.monotonic() - started < 0.2  # the burst
    for _ in range(6):
        limiter.take(1, private=False)
    assert time.monotonic() - started >= 0.28  # 6 more at 20/s (first at ~0.05 s)
    with pytest.raises(RateLimited) as refused:
        limiter.take(5, private=False, max_wait=0.05)
    assert refused.value.retry_after >= 1


def test_all_or_nothing_across_key_and_ip(settings):
    settings.EXCHANGE_RATE_LIMITS = {"binance": (1, 2)}
    settings.EXCHANGE_IP_RATE_LIMITS = {"binance": (100, 100)}
    limiter = ratelimit.Limiter("binance", DEFAULT_KEY)
    limiter.take(2, private=True)
    ip_after = _bucket("ip")["tokens"]
    with pytest.raises(RateLimited):
        limiter.take(1, private=True, max_wait=0)
    # the key's bucket was empty: nothing was taken from the IP's either
    assert _bucket("ip")["tokens"] >= ip_after
    limiter.take(1, private=False, max_wait=0)  # public calls do not need the key's bucket


def test_public_calls_take_from_the_ip_only_private_from_both(binance_via_fake, settings):
    settings.EXCHANGE_RATE_LIMITS = {"binance": (1, 40)}  # slow refill: the tokens taken stay visible
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET)
    ex.load_markets()  # exchangeInfo: public, ccxt cost 4
    assert _bucket("key") is None
    assert _bucket("ip")["tokens"] == pytest.approx(36, abs=0.2)
    ex.fetch_ticker("BTC/USDT")  # ticker/24hr with a symbol: public, cost 0.4
    assert _bucket("key") is None
    assert _bucket("ip")["tokens"] == pytest.approx(35.6, abs=0.3)
    ex.fetch_balance()  # account: signed, cost 4 from both
    assert _bucket("key")["tokens"] == pytest.approx(36, abs=0.2)
    assert _bucket("ip")["tokens"] == pytest.approx(31.6, abs=0.4)
    assert _bucket("key")["bucket"] == ratelimit.key_id("binance", DEFAULT_KEY)


def test_a_429_backs_everyone_off(binance_via_fake, settings):
    """One adapter's 429 on a public call stops every adapter's calls on that IP until the back-off ends: another
    user's adapter fails fast (RateLimited, without reaching the exchange) when it may not wait that long, and waits
    when it may."""
    settings.EXCHANGE_RATE_BACKOFF_SECONDS = 1.5
    first = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, max_retries=0)
    binance_via_fake.add_account(OTHER_KEY, OTHER_SECRET, {"USDT": "5"})
    other = CcxtExchange("binance", OTHER_KEY, OTHER_SECRET, max_retries=0)
    first.load_markets()
    binance_via_fake.fail_next("429", path=TICKER)
    with pytest.raises(RateLimited) as answered:
        first.fetch_ticker("BTC/USDT")
    hit = time.time()
    assert answered.value.retry_after >= 1
    received = len(binance_via_fake.requests)

    settings.EXCHANGE_RATE_WAIT_SECONDS = 0.2
    with pytest.raises(RateLimited) as refused:
        other.fetch_ticker("ETH/USDT")
    with pytest.raises(RateLimited):
        other.fetch_balance()  # private calls take from the IP too
    assert len(binance_via_fake.requests) == received  # nothing reached the exchange
    assert refused.value.retry_after >= 1
    assert _bucket("ip")["backoff_seconds"] > 0

    settings.EXCHANGE_RATE_WAIT_SECONDS = 5
    assert other.fetch_ticker("ETH/USDT")["last"] > 0
    assert binance_via_fake.calls(path=TICKER)[-1] >= hit + 1.4


def test_retry_after_is_honoured(binance_via_fake, settings):
    """Retry-After: 1 wins over the 5 s default back-off; the adapter's retry waits for it instead of sleeping its
    own way, then succeeds."""
    settings.EXCHANGE_RATE_BACKOFF_SECONDS = 5
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, max_retries=1)
    ex.load_markets()
    binance_via_fake.fail_next("429", path=TICKER, retry_after=1)
    started = time.time()
    assert ex.fetch_ticker("BTC/USDT")["last"] > 0
    first, second = binance_via_fake.calls(path=TICKER)
    assert 0.95 <= second - first < 2.5
    assert time.time() - started < 3


def test_a_418_on_a_private_call_backs_off_the_key_and_the_ip(binance_via_fake, settings, auth_client):
    settings.EXCHANGE_RATE_WAIT_SECONDS = 0.1
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, max_retries=0)
    ex.load_markets()
    binance_via_fake.fail_next("418", path=ACCOUNT, retry_after=30)
    with pytest.raises(RateLimited) as answered:
        ex.fetch_balance()
    assert 28 <= answered.value.retry_after <= 31
    assert 29 <= _bucket("key")["backoff_seconds"] <= 30 and 29 <= _bucket("ip")["backoff_seconds"] <= 30
    same_key = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, max_retries=0)
    with pytest.raises(RateLimited):
        same_key.fetch_open_orders("BTC/USDT")
    assert binance_via_fake.count("GET", "/api/v3/openOrders") == 0

    body = auth_client.get("/api/health/components").json()
    component = body["components"]["rate_limits"]
    assert component["status"] == "down" and body["status"] == "degraded"  # the platform's IP is backing off
    assert component["backing_off"] == 2 and component["egress"] == "local"
    assert component["backend"] == ("redis" if settings.REDIS_URL else "local")

    metrics = generate_latest(REGISTRY).decode()
    assert 'amarktai_ratelimit_backoffs_total{exchange="binance",reason="418",scope="key"}' in metrics
    assert f'bucket="{ratelimit.key_id("binance", DEFAULT_KEY)}"' in metrics


def test_keys_never_appear_in_health_metrics_or_redis(binance_via_fake, auth_client, settings):
    ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET)
    ex.fetch_balance()
    texts = [
        json.dumps(auth_client.get("/api/health/components").json()),
        generate_latest(REGISTRY).decode(),
    ]
    if settings.REDIS_URL:
        client = ratelimit.backend().client
        texts.append(" ".join(k.decode() for k in client.scan_iter(match=ratelimit.PREFIX + "*")))
        texts.append(" ".join(m.decode() for m in client.zrange(ratelimit.INDEX, 0, -1)))
    assert ratelimit.key_id("binance", DEFAULT_KEY) in texts[0]
    for text in texts:
        assert DEFAULT_KEY not in text and DEFAULT_SECRET not in text


def test_threads_sharing_one_key_never_exceed_its_budget(binance_via_fake, settings):
    """Four threads (in the embedded default, workers are threads of one process) with their own adapters on one key:
    the fake exchange never sees more of that key's calls than its bucket allows."""
    settings.EXCHANGE_RATE_LIMITS = {"binance": (40, 8)}  # balance costs 4: 10 calls a second, a burst of 2
    CcxtExchange("binance").load_markets()
    seconds, start = 2.0, time.time() + 0.2
    counts = []

    def work():
        ex = CcxtExchange("binance", DEFAULT_KEY, DEFAULT_SECRET, max_retries=0)
        n = 0
        time.sleep(max(0, start - time.time()))
        while time.time() < start + seconds:
            ex.fetch_balance()
            n += 1
        counts.append(n)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    arrivals = binance_via_fake.calls(key=DEFAULT_KEY, path=ACCOUNT)
    assert len(arrivals) == sum(counts)
    assert len(arrivals) <= (8 + 40 * (arrivals[-1] - arrivals[0] + 0.05)) / 4 + 1
    assert len(arrivals) >= 0.6 * (8 + 40 * seconds) / 4  # the budget was used, not starved
    assert all(n > 0 for n in counts)


def test_a_broker_429_backs_the_account_off_for_every_adapter(fake_alpaca, settings):
    """Alpaca (alpaca-py against the fake Alpaca): a 429 backs the account's key off; the adapter's retry waits for the
    back-off, and another adapter on the same key that may not wait that long is refused without reaching Alpaca."""
    from tests.fake_alpaca.server import DEFAULT_KEY as ALPACA_KEY
    from tests.fake_alpaca.server import DEFAULT_SECRET as ALPACA_SECRET
    from trading.exchanges import connect
    from trading.exchanges.base import KeySet

    settings.ALPACA_BASE_URL = fake_alpaca.url
    settings.EXCHANGE_RETRY_BASE_SECONDS = 0.01
    settings.EXCHANGE_RATE_BACKOFF_SECONDS = 0.6
    keyset = KeySet("alpaca", ALPACA_KEY, ALPACA_SECRET, extras={"environment": "paper"})
    ex = connect("alpaca", keyset)
    fake_alpaca.fail_next("429", path="/v2/account")
    started = time.monotonic()
    ex.fetch_balance()
    assert time.monotonic() - started >= 0.55  # the retry waited for the back-off
    assert _bucket("key", "alpaca")["bucket"] == ratelimit.key_id("alpaca", ALPACA_KEY)

    fake_alpaca.fail_next("429", path="/v2/account")
    settings.EXCHANGE_RATE_BACKOFF_SECONDS = 5
    settings.EXCHANGE_RATE_WAIT_SECONDS = 0.2
    with pytest.raises(RateLimited) as refused:
        ex.fetch_balance()
    received = len(fake_alpaca.requests)
    with pytest.raises(RateLimited):
        connect("alpaca", keyset).fetch_balance()
    assert len(fake_alpaca.requests) == received
    assert refused.value.retry_after >= 1


def test_redis_down_limits_each_process_alone(settings):
    """When the Redis holding the buckets does not answer, calls still go out, limited by this process's buckets."""
    from django.core.cache import caches

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "amarktai.redis_cache.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.EXCHANGE_RATE_LIMITS = {"binance": (20, 2)}
    try:
        assert ratelimit.backend().kind == "redis"
        limiter = ratelimit.Limiter("binance", DEFAULT_KEY)
        limiter.take(2)
        with pytest.raises(RateLimited):
            limiter.take(2, max_wait=0)  # the local bucket is spent
        ok, detail = ratelimit.health()
        assert not ok and detail["backend"] == "redis" and detail["error"]
    finally:
        caches["default"].close()
        ratelimit._local.reset()


def test_doctor_reports_the_limiter(settings):
    from realtime import doctor

    (row,) = doctor.run(only=["rate limiter"])
    assert row.status == "ok" and ("Redis" if settings.REDIS_URL else "embedded") in row.detail
    settings.EXCHANGE_RATE_BACKOFF_SECONDS = 30
    ratelimit.Limiter("binance").backoff(private=False)
    (row,) = doctor.run(only=["rate limiter"])
    assert row.status == "warn" and "binance ip" in row.detail
