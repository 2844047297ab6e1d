"""The live exchange adapter: the ONLY module that imports ccxt.

CcxtExchange(platform_id, api_key=None, api_secret=None, passphrase=None, base_url=None, timeout_ms=None,
max_retries=None) wraps ccxt's unified API for the catalogue's platforms and returns the Decimal shapes of base.py.

- Rate limiting: ccxt's own ``enableRateLimit`` plus a token bucket per platform shared by every instance in the process
  (settings.EXCHANGE_RATE_LIMITS = {"binance": (rate_per_second, burst)}; default (10, 20)).
- Timeouts: settings.EXCHANGE_TIMEOUT_MS (default 10 000) or the constructor's ``timeout_ms``.
- Retries with exponential backoff + jitter on network errors ONLY (ccxt.NetworkError: RequestTimeout,
  ExchangeNotAvailable, DDoSProtection/RateLimitExceeded, InvalidNonce, and ccxt.OperationFailed = the exchange's
  "unknown error, try again" 5xx answers); settings.EXCHANGE_MAX_RETRIES (default 3),
  EXCHANGE_RETRY_BASE_SECONDS (default 0.5; doubled per attempt, x4 after a 429).
  create_order is NEVER retried blindly: every order carries a client order id; after a network error the adapter looks
  the order up by that id: found -> returned; confirmed absent -> sent again (same id); unknown -> ProviderError.
- Circuit breaker per platform (state in the cache, shared across processes): settings.EXCHANGE_CIRCUIT_THRESHOLD
  consecutive failed calls (default 5) open it, calls then fail fast with ProviderError until
  EXCHANGE_CIRCUIT_COOLDOWN_SECONDS (default 30) pass; then one probe call decides.
- Errors: AuthenticationError/PermissionDenied -> AuthInvalid("Invalid API credentials"); InsufficientFunds ->
  InsufficientFunds; everything else -> ProviderError. Messages never contain keys, secrets or signed URLs.
- Orders: rounded to the market's steps and checked against its limits (min/max amount, min cost) by
  Exchange.check_order (base.py) before anything is sent -> ValidationFailed.
- Testnet: ``testnet=True`` (a credential marked testnet, Platform.supports_testnet) turns on ccxt's
  ``set_sandbox_mode(True)`` (the exchange's ``urls['test']``: Binance's Spot Test Network in the pinned ccxt); a
  platform without a sandbox refuses it with ValidationFailed.
- Permissions: ``test_connection()`` reports what the keys may do where the exchange tells: Binance's
  ``GET /sapi/v1/account/apiRestrictions`` (read / spot trade / withdraw; not on its testnet); others: None.
- Base URLs: settings.EXCHANGE_URL_OVERRIDES = {"binance": "http://127.0.0.1:PORT"} or ``base_url=`` replace the scheme
  and host of every API URL of the exchange (paths kept), so tests talk to the fake exchange.
"""

import logging
import random
import re
import threading
import time
import uuid
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit, urlunsplit

import ccxt
from django.conf import settings

from amarktai.errors import AuthInvalid, InsufficientFunds, NotFound, ProviderError, RateLimited, ValidationFailed
from trading.exchanges.base import Exchange, Number, OrderOptions
from trading.exchanges.resilience import CircuitBreaker, bucket_for, reset_buckets
from trading.platforms import get_platform

logger = logging.getLogger(__name__)
# ccxt logs every request's headers (including the API key) at DEBUG: keep its loggers at WARNING whatever the root
# level is, so keys never reach the logs.
logging.getLogger("ccxt").setLevel(logging.WARNING)

# Options that keep ccxt on spot endpoints (no margin/futures/currency calls needing extra permissions).
EXCHANGE_OPTIONS = {
    "binance": {
        "fetchMarkets": {"types": ["spot"]},
        "fetchMargins": False,
        "fetchCurrencies": False,
        "defaultType": "spot",
        "adjustForTimeDifference": False,
        "warnOnFetchOpenOrdersWithoutSymbol": False,
        "fetchOpenOrders": {"warnWithoutSymbol": False},
    },
    "kucoin": {"fetchCurrencies": False},
    "kraken": {"fetchCurrencies": False},
}
STATUS = {
    "open": "open",
    "closed": "closed",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "canceled",
    "rejected": "rejected",
}
MARKETS_TTL = 3600
# Retried (and counted by the circuit breaker): ccxt.NetworkError (timeouts, unreachable, 429/DDoS, nonce) and its
# parent OperationFailed, which ccxt raises for an exchange's own "unknown error, try again" 5xx answers
# (Binance -1000/-1001).
RETRYABLE = ccxt.OperationFailed

_markets_cache = {}  # (ccxt_id, base_url, testnet) -> (expires, markets)
_markets_lock = threading.Lock()


def reset_state():
    """Forget cached markets and token buckets (tests)."""
    with _markets_lock:
        _markets_cache.clear()
    reset_buckets()


def D(value):
    """ccxt number/string -> Decimal (None stays None)."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _override_urls(urls, base_url):
    """Replace scheme://host of every URL string in ccxt's (possibly nested) ``urls['api']`` by ``base_url``."""
    target = urlsplit(base_url.rstrip("/"))
    if isinstance(urls, str):
        parts = urlsplit(urls)
        if not parts.scheme:
            return urls
        return urlunsplit((target.scheme, target.netloc, target.path + parts.path, parts.query, parts.fragment))
    if isinstance(urls, dict):
        return {key: _override_urls(value, base_url) for key, value in urls.items()}
    return urls


_MSG = re.compile(r'"(?:msg|message|error)"\s*:\s*"([^"]{1,200})"')


def _exchange_message(exc):
    """A short, secret-free reason from a ccxt exception (the exchange's own "msg" when it sent one)."""
    match = _MSG.search(str(exc))
    return match.group(1) if match else exc.__class__.__name__


class CcxtExchange(Exchange):
    def __init__(
        self,
        platform_id,
        api_key=None,
        api_secret=None,
        passphrase=None,
        base_url=None,
        timeout_ms=None,
        max_retries=None,
        testnet=False,
    ):
        platform = get_platform(platform_id)
        if platform is None:
            raise ValidationFailed(f"Unknown exchange {platform_id!r}")
        if platform.requires_passphrase and api_key and not passphrase:
            raise ValidationFailed(f"{platform.name} API keys need a passphrase", details={"passphrase": ["required"]})
        self.platform = platform
        self.platform_id = platform.id
        self.base_url = base_url or settings.EXCHANGE_URL_OVERRIDES.get(platform.id)
        self.max_retries = int(max_retries if max_retries is not None else settings.EXCHANGE_MAX_RETRIES)
        self.retry_base = float(settings.EXCHANGE_RETRY_BASE_SECONDS)
        config = {
            "enableRateLimit": True,
            "timeout": int(timeout_ms or settings.EXCHANGE_TIMEOUT_MS),
            "options": dict(EXCHANGE_OPTIONS.get(platform.ccxt_id, {})),
        }
        if api_key:
            config["apiKey"] = api_key
            config["secret"] = api_secret or ""
            if passphrase:
                config["password"] = passphrase
        self.client = getattr(ccxt, platform.ccxt_id)(config)
        self.testnet = bool(testnet)
        if self.testnet:
            if not platform.supports_testnet or not self.client.urls.get("test"):
                raise ValidationFailed(f"{platform.name} has no testnet", details={"testnet": ["not offered"]})
            self.client.set_sandbox_mode(True)
        if self.base_url:
            self.client.urls["api"] = _override_urls(self.client.urls["api"], self.base_url)
        rate, burst = settings.EXCHANGE_RATE_LIMITS.get(platform.id, (10, 20))
        self.bucket = bucket_for(platform.id, rate, burst)
        self.breaker = CircuitBreaker(
            platform.id, settings.EXCHANGE_CIRCUIT_THRESHOLD, settings.EXCHANGE_CIRCUIT_COOLDOWN_SECONDS
        )

    def __repr__(self):  # never show keys
        mode = " testnet" if self.testnet else ""
        return f"<CcxtExchange {self.platform_id}{mode} {'private' if self.client.apiKey else 'public'}>"

    # --- call machinery ----------------------------------------------------------------------------------------
    def _translate(self, exc, action):
        name = self.platform.name
        if isinstance(exc, (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)):
            return AuthInvalid("Invalid API credentials")
        if isinstance(exc, ccxt.InsufficientFunds):
            return InsufficientFunds(f"{name}: insufficient balance for this order")
        if isinstance(exc, ccxt.OrderNotFound):
            return NotFound("Order not found")
        if isinstance(exc, ccxt.BadSymbol):
            return ValidationFailed(f"{name} has no such market", details={"symbol": ["unknown market"]})
        if isinstance(exc, RETRYABLE):
            return ProviderError(f"{name} is not reachable right now ({exc.__class__.__name__} on {action})")
        return ProviderError(f"{name} rejected {action}: {_exchange_message(exc)}")

    def _guard(self):
        if not self.breaker.allow():
            raise ProviderError(
                f"{self.platform.name} is temporarily unavailable (circuit open)",
                retry_after=self.breaker.retry_after(),
            )
        if not self.bucket.acquire(max_wait=float(settings.EXCHANGE_RATE_WAIT_SECONDS)):
            raise RateLimited(f"Too many requests to {self.platform.name}; try again shortly", retry_after=1)

    def _backoff(self, attempt, exc):
        delay = self.retry_base * (2**attempt)
        if isinstance(exc, ccxt.DDoSProtection):
            delay *= 4  # the exchange asked us to slow down
        time.sleep(delay * (1 + random.random() * 0.25))

    def _once(self, action, fn, *args, **kwargs):
        """One guarded call (no retry). Network errors count against the circuit."""
        self._guard()
        try:
            result = fn(*args, **kwargs)
        except RETRYABLE:
            self.breaker.record_failure()
            raise
        except ccxt.BaseError:
            self.breaker.record_success()  # the exchange answered: it is up
            raise
        self.breaker.record_success()
        return result

    def _call(self, action, fn, *args, **kwargs):
        """A guarded call retried with backoff on network errors only; ccxt errors translated to domain errors."""
        attempt = 0
        while True:
            try:
                return self._once(action, fn, *args, **kwargs)
            except RETRYABLE as exc:
                logger.warning("%s %s: %s (attempt %d)", self.platform_id, action, exc.__class__.__name__, attempt + 1)
                if attempt >= self.max_retries or self.breaker.state() != CircuitBreaker.CLOSED:
                    raise self._translate(exc, action) from None
                self._backoff(attempt, exc)
                attempt += 1
            except ccxt.BaseError as exc:
                logger.info("%s %s failed: %s", self.platform_id, action, exc.__class__.__name__)
                raise self._translate(exc, action) from None

    # --- markets -----------------------------------------------------------------------------------------------
    def _ensure_markets(self):
        if self.client.markets:
            return self.client.markets
        key = (self.platform.ccxt_id, self.base_url, self.testnet)
        with _markets_lock:
            cached = _markets_cache.get(key)
        if cached and cached[0] > time.time():
            self.client.set_markets(cached[1])
            return self.client.markets
        markets = self._call("load_markets", self.client.load_markets)
        with _markets_lock:
            _markets_cache[key] = (time.time() + MARKETS_TTL, list(markets.values()))
        return markets

    def _precision(self, value: float | str | None) -> Decimal | None:
        """ccxt's precision of a market as a step: with TICK_SIZE (every catalogue exchange in the pinned ccxt) it is
        one already, with DECIMAL_PLACES it is a number of decimals."""
        if value is None:
            return None
        if self.client.precisionMode == ccxt.TICK_SIZE:
            return D(value)
        return Decimal(1).scaleb(-int(value))

    def _market_shape(self, m: dict) -> dict:
        """A ccxt market as base.py's market shape (precisions as Decimal steps), the one shape check_order reads."""
        limits = m.get("limits") or {}
        amount_limits, cost_limits = limits.get("amount") or {}, limits.get("cost") or {}
        market_limits = limits.get("market") or {}
        return {
            "symbol": m["symbol"],
            "base": m["base"],
            "quote": m["quote"],
            "amount_precision": self._precision((m.get("precision") or {}).get("amount")),
            "price_precision": self._precision((m.get("precision") or {}).get("price")),
            "min_amount": D(amount_limits.get("min")),
            "max_amount": D(amount_limits.get("max")),
            "min_cost": D(cost_limits.get("min")),
            "max_market_amount": D(market_limits.get("max")) or D(amount_limits.get("max")),
            "lot_size": None,  # crypto trades in fractions: the amount step is the only rounding
        }

    def load_markets(self):
        markets = self._ensure_markets()
        return {symbol: self._market_shape(m) for symbol, m in markets.items() if m.get("spot", True)}

    def market(self, symbol):
        markets = self._ensure_markets()
        symbol = (symbol or "").upper()
        if symbol not in markets:
            raise ValidationFailed(
                f"{self.platform.name} has no market {symbol or '(empty)'}", details={"symbol": ["unknown market"]}
            )
        return markets[symbol]

    # --- market data -------------------------------------------------------------------------------------------
    def fetch_ticker(self, symbol):
        market = self.market(symbol)
        t = self._call("fetch_ticker", self.client.fetch_ticker, market["symbol"])
        last = D(t.get("last")) or D(t.get("close"))
        return {
            "symbol": t.get("symbol") or market["symbol"],
            "bid": D(t.get("bid")) or last,
            "ask": D(t.get("ask")) or last,
            "last": last,
            "timestamp": t.get("timestamp") or int(time.time() * 1000),
        }

    def fetch_ohlcv(self, symbol, timeframe="1m", limit=100, since=None):
        """Candles, the latest ``limit`` (or ``limit`` from ``since`` ms, for paged history)."""
        market = self.market(symbol)
        rows = self._call("fetch_ohlcv", self.client.fetch_ohlcv, market["symbol"], timeframe, since, int(limit))
        return [[int(r[0]), D(r[1]), D(r[2]), D(r[3]), D(r[4]), D(r[5]) or Decimal(0)] for r in rows]

    def fetch_order_book(self, symbol, limit=20):
        """The top ``limit`` levels a side: {"bids": [[price, amount], ...] best first, "asks": ..., "timestamp"}."""
        market = self.market(symbol)
        book = self._call("fetch_order_book", self.client.fetch_order_book, market["symbol"], int(limit))
        return {
            "bids": [[D(p), D(a)] for p, a, *_ in (book.get("bids") or [])[: int(limit)]],
            "asks": [[D(p), D(a)] for p, a, *_ in (book.get("asks") or [])[: int(limit)]],
            "timestamp": book.get("timestamp") or int(time.time() * 1000),
        }

    def ping(self):
        """One cheap public call (the default symbol's ticker); returns the latency in ms. Never retried."""
        market = self.market(self.platform.default_symbol)
        started = time.monotonic()
        try:
            self._once("ping", self.client.fetch_ticker, market["symbol"])
        except ccxt.BaseError as exc:
            raise self._translate(exc, "ping") from None
        return int((time.monotonic() - started) * 1000)

    # --- account -----------------------------------------------------------------------------------------------
    def _require_keys(self):
        if not self.client.apiKey:
            raise AuthInvalid("Invalid API credentials")

    def fetch_balance(self):
        self._require_keys()
        raw = self._call("fetch_balance", self.client.fetch_balance)
        free, used, total = raw.get("free") or {}, raw.get("used") or {}, raw.get("total") or {}
        balances = {}
        for currency in sorted(set(free) | set(used) | set(total)):
            f, u, t = D(free.get(currency)) or Decimal(0), D(used.get(currency)) or Decimal(0), D(total.get(currency))
            t = t if t is not None else f + u
            if t == 0 and f == 0 and u == 0:
                continue
            balances[currency] = {"free": f, "used": u, "total": t}
        return balances

    def test_connection(self):
        """fetch_balance proves the keys; then what they may do, where the exchange tells (see ``permissions``)."""
        self.fetch_balance()
        return {"permissions": self.permissions(), "account": None}

    def permissions(self):
        """{"read", "trade", "withdraw"} of the keys as the exchange reports them, or None when it does not tell.
        Binance: GET /sapi/v1/account/apiRestrictions (its testnet has no such endpoint: None there)."""
        self._require_keys()
        if self.platform.ccxt_id != "binance" or self.testnet:
            return None
        raw = self._call("permissions", self.client.sapi_get_account_apirestrictions)
        return {
            "read": bool(raw.get("enableReading")),
            "trade": bool(raw.get("enableSpotAndMarginTrading")),
            "withdraw": bool(raw.get("enableWithdrawals")),
        }

    # --- orders ------------------------------------------------------------------------------------------------
    def _order_shape(self, o, market=None):
        fee = o.get("fee") or {}
        fee_cost, fee_currency = D(fee.get("cost")), fee.get("currency")
        if fee_cost is None and o.get("fees"):
            fee_cost = sum((D(f.get("cost")) or Decimal(0) for f in o["fees"]), Decimal(0))
            fee_currency = o["fees"][0].get("currency")
        amount, filled = D(o.get("amount")), D(o.get("filled")) or Decimal(0)
        remaining = D(o.get("remaining"))
        if remaining is None and amount is not None:
            remaining = amount - filled
        average, price = D(o.get("average")), D(o.get("price"))
        cost = D(o.get("cost"))
        if cost is None:
            cost = filled * (average or price or Decimal(0))
        return {
            "id": str(o.get("id")),
            "client_order_id": o.get("clientOrderId"),
            "symbol": o.get("symbol") or (market or {}).get("symbol"),
            "type": o.get("type"),
            "side": o.get("side"),
            "amount": amount,
            "price": price or None,
            "filled": filled,
            "remaining": remaining,
            "average": average,
            "cost": cost,
            "status": STATUS.get(o.get("status"), "open"),
            "fee": {"cost": fee_cost if fee_cost is not None else Decimal(0), "currency": fee_currency},
            "timestamp": o.get("timestamp") or int(time.time() * 1000),
            "price_source": "exchange",  # a real fill, priced by the exchange itself
        }

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: Number,
        price: Number | None = None,
        client_order_id: str | None = None,
        options: OrderOptions | None = None,
    ) -> dict:
        self._require_keys()
        market = self.market(symbol)
        shape = self._market_shape(market)
        options = self.check_options(shape, type, options)
        amount, price = self.check_order(shape, type, side, amount, price)
        client_order_id = client_order_id or f"amk{uuid.uuid4().hex[:24]}"
        params = {"clientOrderId": client_order_id, **self._option_params(type, options)}
        type = "limit" if type == "stop_limit" else "market" if type == "stop" else type
        attempt = 0
        while True:
            try:
                raw = self._once(
                    "create_order",
                    self.client.create_order,
                    market["symbol"],
                    type,
                    side,
                    float(amount),
                    None if price is None else float(price),
                    params,
                )
                return self._order_shape(raw, market)
            except RETRYABLE as exc:
                logger.warning(
                    "%s create_order %s: %s; looking the order up by client id",
                    self.platform_id,
                    client_order_id,
                    exc.__class__.__name__,
                )
                found = self._lookup_client_order(market, client_order_id)
                if found is not None:
                    return found
                if attempt >= self.max_retries or self.breaker.state() != CircuitBreaker.CLOSED:
                    raise self._translate(exc, "create_order") from None
                self._backoff(attempt, exc)
                attempt += 1
            except ccxt.BaseError as exc:
                logger.info("%s create_order failed: %s", self.platform_id, exc.__class__.__name__)
                raise self._translate(exc, "create_order") from None

    def _lookup_client_order(self, market, client_order_id):
        """The order with this client id: its shape if the exchange has it, None if it confirms there is none.
        Raises ProviderError when the answer stays unknown (then nothing is re-sent)."""
        try:
            raw = self._call(
                "fetch_order", self.client.fetch_order, None, market["symbol"], {"clientOrderId": client_order_id}
            )
            return self._order_shape(raw, market)
        except NotFound:
            return None
        except AuthInvalid:
            raise
        except Exception:  # noqa: BLE001 - unknown outcome: never send the order a second time
            pass
        try:  # exchanges without lookup by client id: scan open orders
            for raw in self._call("fetch_open_orders", self.client.fetch_open_orders, market["symbol"]):
                if raw.get("clientOrderId") == client_order_id:
                    return self._order_shape(raw, market)
        except Exception:  # noqa: BLE001
            pass
        raise ProviderError(
            f"{self.platform.name} did not confirm order {client_order_id}; its state is unknown, "
            "check the exchange before retrying"
        )

    def _option_params(self, type: str, options: OrderOptions) -> dict:
        """ccxt's unified params for the order options this exchange supports; ValidationFailed for the others."""
        name = self.platform.name
        if options.product is not None:
            raise ValidationFailed(
                f"{name} is a crypto exchange: products (MIS, CNC, NRML) are for stock brokers",
                details={"product": ["not supported by this exchange"]},
            )
        params: dict = {}
        if options.time_in_force == "day":
            raise ValidationFailed(
                f"{name} has no day orders (crypto trades around the clock): use gtc or ioc",
                details={"time_in_force": ["not supported by this exchange"]},
            )
        if options.time_in_force == "ioc":
            if type != "limit":
                raise ValidationFailed(
                    "time_in_force ioc applies to limit orders", details={"time_in_force": ["only for limit orders"]}
                )
            params["timeInForce"] = "IOC"
        if type in ("stop", "stop_limit"):
            needed = "createStopLimitOrder" if type == "stop_limit" else "createStopMarketOrder"
            if not (self.client.has.get(needed) or (type == "stop" and self.client.has.get("createStopOrder"))):
                raise ValidationFailed(
                    f"{name} does not take {type} orders", details={"type": ["not supported by this exchange"]}
                )
            params["stopPrice"] = float(options.stop_price)
        return params

    def cancel_order(self, order_id, symbol=None):
        self._require_keys()
        market = self.market(symbol) if symbol else None
        raw = self._call("cancel_order", self.client.cancel_order, str(order_id), market and market["symbol"])
        if not raw.get("status"):
            raw["status"] = "canceled"
        return self._order_shape(raw, market)

    def fetch_order(self, order_id, symbol=None):
        self._require_keys()
        market = self.market(symbol) if symbol else None
        raw = self._call("fetch_order", self.client.fetch_order, str(order_id), market and market["symbol"])
        return self._order_shape(raw, market)

    def fetch_open_orders(self, symbol=None):
        self._require_keys()
        market = self.market(symbol) if symbol else None
        rows = self._call("fetch_open_orders", self.client.fetch_open_orders, market and market["symbol"])
        return [self._order_shape(r, market) for r in rows]


def from_keys(platform, keys, **options):
    """The adapter for ``keys`` (a stored credential or a KeySet): see trading.exchanges.ADAPTERS."""
    return CcxtExchange(
        platform.id,
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        passphrase=keys.passphrase or None,
        testnet=bool(getattr(keys, "testnet", False)),
        **options,
    )


def public(platform, **options):
    return CcxtExchange(platform.id, **options)
