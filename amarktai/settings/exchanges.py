"""Exchanges, brokers and market data (trading app)."""

from amarktai.settings.base import REDIS_URL
from amarktai.settings.env import env, env_bool, env_float, env_int

__all__ = [
    "ALPACA_BASE_URL",
    "ALPACA_DATA_KEY_ID",
    "ALPACA_DATA_SECRET_KEY",
    "EXCHANGE_CIRCUIT_COOLDOWN_SECONDS",
    "EXCHANGE_CIRCUIT_THRESHOLD",
    "EXCHANGE_EGRESS_ID",
    "EXCHANGE_IP_RATE_LIMITS",
    "EXCHANGE_MAX_RETRIES",
    "EXCHANGE_RATE_BACKOFF_MAX_SECONDS",
    "EXCHANGE_RATE_BACKOFF_SECONDS",
    "EXCHANGE_RATE_BURST_SECONDS",
    "EXCHANGE_RATE_LIMITS",
    "EXCHANGE_RATE_WAIT_SECONDS",
    "EXCHANGE_RETRY_BASE_SECONDS",
    "EXCHANGE_STATE_PROVIDER",
    "EXCHANGE_STREAM_URL_OVERRIDES",
    "EXCHANGE_TIMEOUT_MS",
    "EXCHANGE_URL_OVERRIDES",
    "HEALTH_CACHE_SECONDS",
    "HEALTH_DEGRADED_LATENCY_MS",
    "HEALTH_TIMEOUT_MS",
    "MARKET_DATA_POLL_SECONDS",
    "MARKET_DATA_SERVICE",
    "MARKET_DATA_SOURCE",
    "MARKET_DATA_STALE_SECONDS",
    "MSTOCK_BASE_URL",
    "OPENALGO_ALLOWED_HOSTS",
    "OPENALGO_ALLOW_PRIVATE_HOSTS",
    "OPENALGO_DATA_API_KEY",
    "OPENALGO_DATA_HOST_URL",
    "PAPER_STARTING_BALANCES",
]

# What paper bots trade on: "simulated" (the offline feed) or "live" (the exchange's public candles and tickers).
# Live bots always decide on their own exchange's real data, whatever this says.
MARKET_DATA_SOURCE = env("MARKET_DATA_SOURCE", "simulated")
# The market-data service (trading.marketdata; README "The market-data service"): one streaming connection per exchange
# for every market in demand, written to trading.marketcache, which bots read. On (default): bots read candles from the
# cache; a live bot whose market's cached data is missing or older than MARKET_DATA_STALE_SECONDS fails its tick and
# says why. Without REDIS_URL it runs as a thread of `manage.py serve`; with REDIS_URL as its own process
# (`manage.py market_data`). Off: bots fetch their candles over REST on every tick (as before the service).
MARKET_DATA_SERVICE = env_bool("MARKET_DATA_SERVICE", True)
MARKET_DATA_STALE_SECONDS = env_float("MARKET_DATA_STALE_SECONDS", 30)
# Exchanges without a ccxt.pro stream are polled over REST every this many seconds.
MARKET_DATA_POLL_SECONDS = env_float("MARKET_DATA_POLL_SECONDS", 5)
# WebSocket base URL per platform id, replacing the hosts of the exchange's public streams (tests: the fake exchange).
EXCHANGE_STREAM_URL_OVERRIDES: dict[str, str] = {}
# Starting balances of a new paper account, per currency.
PAPER_STARTING_BALANCES = {"ZAR": "100000", "USDT": "10000", "USD": "10000", "INR": "1000000"}
# Base URL per platform id, replacing the exchange's own hosts (tests point ccxt at a local fake exchange).
EXCHANGE_URL_OVERRIDES: dict[str, str] = {}
# mStock's Type A trading API (trading/exchanges/mstock_adapter.py); tests point it at tests/fake_mstock.
MSTOCK_BASE_URL = env("MSTOCK_BASE_URL", "https://api.mstock.trade/")
# Alpaca (trading.exchanges.alpaca_adapter): one base URL replacing both of Alpaca's hosts (the trading API, paper or
# live, and the market-data API; tests point it at tests/fake_alpaca), and the keys the platform itself reads US-stock
# market data with when no user's keys are at hand (live prices of positions, health): crypto data needs none.
ALPACA_BASE_URL = env("ALPACA_BASE_URL", "")
ALPACA_DATA_KEY_ID = env("ALPACA_DATA_KEY_ID", "")
ALPACA_DATA_SECRET_KEY = env("ALPACA_DATA_SECRET_KEY", "")
EXCHANGE_MAX_RETRIES = env_int("EXCHANGE_MAX_RETRIES", 3)
EXCHANGE_RETRY_BASE_SECONDS = env_float("EXCHANGE_RETRY_BASE_SECONDS", 0.5)
EXCHANGE_TIMEOUT_MS = env_int("EXCHANGE_TIMEOUT_MS", 10_000)


def _rate_limits(text: str) -> dict[str, tuple[float, float]]:
    """ "binance=20:40,luno=5:5" -> {"binance": (20.0, 40.0), "luno": (5.0, 5.0)} (tokens a second : burst)."""
    limits = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        rate, _, burst = value.partition(":")
        try:
            limits[name.strip()] = (float(rate), float(burst or rate))
        except ValueError:
            raise ValueError(f"rate limit {item.strip()!r}: expected <platform>=<rate>:<burst>") from None
    return limits


# The shared rate limiter (trading/exchanges/ratelimit.py): token buckets per (exchange, API key) and per (exchange,
# egress IP), in Redis with REDIS_URL. Sizes come from ccxt's rateLimit (tokens a second = 1000 / rateLimit, a call
# costing its endpoint's ccxt weight) and a burst of EXCHANGE_RATE_BURST_SECONDS of that; these override them per
# platform id (both scopes; EXCHANGE_IP_RATE_LIMITS the IP scope alone): "binance=20:40,luno=5:5".
EXCHANGE_RATE_LIMITS: dict[str, tuple[float, float]] = _rate_limits(env("EXCHANGE_RATE_LIMITS", ""))
EXCHANGE_IP_RATE_LIMITS: dict[str, tuple[float, float]] = _rate_limits(env("EXCHANGE_IP_RATE_LIMITS", ""))
EXCHANGE_RATE_BURST_SECONDS = env_float("EXCHANGE_RATE_BURST_SECONDS", 1.0)
# Longest wait for a bucket (or a back-off) before a call fails with RateLimited.
EXCHANGE_RATE_WAIT_SECONDS = env_float("EXCHANGE_RATE_WAIT_SECONDS", 30)
# After a 429/418 without Retry-After: back off this long, doubled per repeat, at most the max.
EXCHANGE_RATE_BACKOFF_SECONDS = env_float("EXCHANGE_RATE_BACKOFF_SECONDS", 10)
EXCHANGE_RATE_BACKOFF_MAX_SECONDS = env_float("EXCHANGE_RATE_BACKOFF_MAX_SECONDS", 300)
# Which public address this host's calls leave from: hosts behind one address share it (the default "local" suits one
# host); a host with its own address sets its own, so its IP buckets are its own.
EXCHANGE_EGRESS_ID = env("EXCHANGE_EGRESS_ID", "local")
EXCHANGE_CIRCUIT_THRESHOLD = env_int("EXCHANGE_CIRCUIT_THRESHOLD", 5)
EXCHANGE_CIRCUIT_COOLDOWN_SECONDS = env_float("EXCHANGE_CIRCUIT_COOLDOWN_SECONDS", 30)
# Dotted path of a callable (platform_id) -> circuit state ("closed", "open", "half_open") that /api/health/components
# reports per exchange; empty: not reported.
EXCHANGE_STATE_PROVIDER = ""
# OpenAlgo gateways are hosted by the users themselves: when this names hosts (comma-separated, "*.example.com"
# allowed), a credential's host_url must be one of them (SSRF guard; see docs/security.md). Empty: any http(s) host.
OPENALGO_ALLOWED_HOSTS = [h.strip() for h in env("OPENALGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
# Gateways on loopback, private or link-local addresses: allowed by default only in the embedded default (no REDIS_URL:
# the server is the user's own machine, where OpenAlgo usually runs on 127.0.0.1:5000); refused in production.
OPENALGO_ALLOW_PRIVATE_HOSTS = env_bool("OPENALGO_ALLOW_PRIVATE_HOSTS", not REDIS_URL)
# The operator's own OpenAlgo gateway for shared live market data (live OpenAlgo bots' candles, tickers, valuations):
# users' gateways carry their orders only. Unset: live OpenAlgo market data is unavailable (ticks fail and say why).
OPENALGO_DATA_HOST_URL = env("OPENALGO_DATA_HOST_URL", "")
OPENALGO_DATA_API_KEY = env("OPENALGO_DATA_API_KEY", "")
# /api/platforms/health: how long an answer is kept, the timeout of one check and the latency that counts as degraded.
HEALTH_CACHE_SECONDS = env_int("HEALTH_CACHE_SECONDS", 30)
HEALTH_TIMEOUT_MS = env_int("HEALTH_TIMEOUT_MS", 3000)
HEALTH_DEGRADED_LATENCY_MS = env_int("HEALTH_DEGRADED_LATENCY_MS", 1500)
