"""The Alpaca adapter (US equities and crypto, quote USD): the ONLY module that imports the official ``alpaca-py`` SDK.

AlpacaExchange(platform, api_key, api_secret, environment="paper", timeout_ms=None, max_retries=None) speaks to
Alpaca's trading API (``TradingClient``: paper endpoint https://paper-api.alpaca.markets or live
https://api.alpaca.markets, chosen by the credential's ``environment`` field) and its market-data API
(``StockHistoricalDataClient``, ``CryptoHistoricalDataClient``) and returns the Decimal shapes of base.py.

- The SDK is used with ``raw_data=True``: Alpaca's JSON comes back as plain dicts and is read here into base.py's
  shapes (no pydantic model breaks when Alpaca adds a field). Requests are still the SDK's request models.
- Symbols: the catalogue's "AAPL/USD" is Alpaca's "AAPL"; crypto keeps Alpaca's "BTC/USD" (orders, data); assets are
  looked up as "BTCUSD". Whether a symbol is crypto is decided by its base (CRYPTO_BASES) so that public market data
  needs no asset lookup.
- Equities trade in whole shares here (Alpaca allows fractions only for market/day orders on fractionable assets; kept
  simple): the amount is rounded down to whole shares and an order below one share is refused with a clear error.
- Timeouts: the SDK's requests session has none, so every request gets settings.EXCHANGE_TIMEOUT_MS (or
  ``timeout_ms``). The SDK's own retry (429/504, 3 s sleeps) is switched off; this adapter retries network errors,
  429 and 5xx with backoff (settings.EXCHANGE_MAX_RETRIES, EXCHANGE_RETRY_BASE_SECONDS), behind the same shared rate
  limiter (trading.exchanges.ratelimit: a 429 backs the account off for every process) and circuit breaker
  (trading.exchanges.resilience) as the ccxt adapter.
- create_order is NEVER retried blindly: every order carries a client order id; after a network error or 5xx the order
  is looked up by that id (GET /v2/orders:by_client_order_id): found -> returned; 404 -> sent again (same id);
  unknown -> ProviderError.
- Errors: 401/403 -> AuthInvalid (a 403 about buying power -> InsufficientFunds); 404 -> NotFound; 422 and other 4xx ->
  ProviderError with Alpaca's message ("Alpaca rejected create_order: ..."); network/5xx -> ProviderError.
- Balances: "USD" (total = cash, free = the buying power usable without margin) and one entry per position (free =
  qty_available). Fees: Alpaca charges no commission on equities; crypto fees are booked by Alpaca as account
  activities, not on the order, so orders report a fee of 0 USD.
- Keys: a user's Key ID (``api_key``) and secret. Without them (``public``) crypto data works (Alpaca serves it
  keyless); US-stock data and the market clock use settings.ALPACA_DATA_KEY_ID/ALPACA_DATA_SECRET_KEY when set.
- Base URL: settings.ALPACA_BASE_URL replaces both hosts (trading and data; tests point it at tests/fake_alpaca).
"""

import functools
import logging
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.historical.crypto import CryptoHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import CryptoBarsRequest, CryptoLatestQuoteRequest, StockBarsRequest, StockLatestQuoteRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)
from django.conf import settings

from amarktai.errors import AuthInvalid, InsufficientFunds, NotFound, ProviderError, RateLimited, ValidationFailed
from trading.exchanges import ratelimit
from trading.exchanges.base import Exchange, Number, round_to_step
from trading.exchanges.base import decimal_or_none as D
from trading.exchanges.resilience import CircuitBreaker

logger = logging.getLogger(__name__)
# urllib3 logs request lines at DEBUG (never headers, but keep it quiet like ccxt's logger).
logging.getLogger("urllib3").setLevel(logging.WARNING)

CRYPTO_BASES = frozenset({"BTC", "ETH", "SOL", "LTC", "BCH", "DOGE", "AVAX", "LINK", "UNI", "AAVE", "DOT", "XRP"})
STATUS = {
    "new": "open",
    "accepted": "open",
    "pending_new": "open",
    "accepted_for_bidding": "open",
    "partially_filled": "open",
    "pending_cancel": "open",
    "pending_replace": "open",
    "held": "open",
    "calculated": "open",
    "filled": "closed",
    "done_for_day": "canceled",
    "canceled": "canceled",
    "expired": "canceled",
    "replaced": "canceled",
    "stopped": "closed",
    "rejected": "rejected",
    "suspended": "rejected",
}
TIMEFRAMES = {
    "1m": (1, TimeFrameUnit.Minute, 60),
    "5m": (5, TimeFrameUnit.Minute, 300),
    "15m": (15, TimeFrameUnit.Minute, 900),
    "30m": (30, TimeFrameUnit.Minute, 1800),
    "1h": (1, TimeFrameUnit.Hour, 3600),
    "4h": (4, TimeFrameUnit.Hour, 14400),
    "1d": (1, TimeFrameUnit.Day, 86400),
}
SESSION = "NYSE/Nasdaq 09:30-16:00 America/New_York, Mon-Fri"
ASSETS_TTL = 3600
RETRYABLE = (requests.ConnectionError, requests.Timeout)

_assets_cache: dict = {}  # (base url, symbol) -> (expires, asset dict)
_assets_lock = threading.Lock()


def reset_state():
    """Forget cached assets (tests)."""
    with _assets_lock:
        _assets_cache.clear()


def _ms(value):
    """An Alpaca RFC 3339 timestamp as epoch milliseconds (now when missing)."""
    parsed = _dt(value)
    return int(parsed.timestamp() * 1000) if parsed else int(time.time() * 1000)


def _dt(value):
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if "." in text:  # Alpaca sends nanoseconds: keep microseconds for fromisoformat
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_crypto(symbol: str) -> bool:
    return symbol.upper().split("/")[0] in CRYPTO_BASES


def alpaca_symbol(symbol: str) -> str:
    """ "AAPL/USD" -> "AAPL"; crypto stays "BTC/USD" (Alpaca's own spelling for crypto orders and data)."""
    symbol = symbol.upper()
    return symbol if is_crypto(symbol) else symbol.split("/")[0]


def unified_symbol(raw: str) -> str:
    """Alpaca's "AAPL" / "BTC/USD" / "BTCUSD" -> the catalogue's "AAPL/USD" / "BTC/USD"."""
    raw = (raw or "").upper()
    if "/" in raw:
        return raw
    if raw.endswith("USD") and raw[:-3] in CRYPTO_BASES:
        return f"{raw[:-3]}/USD"
    return f"{raw}/USD"


def _api_message(exc: APIError) -> str:
    try:
        return str(exc.message)[:200]
    except Exception:  # noqa: BLE001 - a body that is not Alpaca's JSON (a proxy's HTML page)
        return f"HTTP {exc.status_code}"


class AlpacaExchange(Exchange):
    def __init__(self, platform, api_key=None, api_secret=None, environment="paper", timeout_ms=None, max_retries=None):
        self.platform = platform
        self.platform_id = platform.id
        self.environment = environment if environment in ("paper", "live") else "paper"
        self.has_keys = bool(api_key and api_secret)  # the SDK refuses a key without its secret
        self.base_url = (settings.ALPACA_BASE_URL or "").rstrip("/") or None
        self.timeout = int(timeout_ms or settings.EXCHANGE_TIMEOUT_MS) / 1000
        self.max_retries = int(max_retries if max_retries is not None else settings.EXCHANGE_MAX_RETRIES)
        self.retry_base = float(settings.EXCHANGE_RETRY_BASE_SECONDS)
        data_key, data_secret = (api_key, api_secret) if self.has_keys else (None, None)
        if not data_key and settings.ALPACA_DATA_KEY_ID and settings.ALPACA_DATA_SECRET_KEY:
            data_key, data_secret = settings.ALPACA_DATA_KEY_ID, settings.ALPACA_DATA_SECRET_KEY
        self.trading = None
        if data_key:
            self.trading = self._tune(
                TradingClient(
                    data_key,
                    data_secret or "",
                    paper=self.environment == "paper",
                    raw_data=True,
                    url_override=self.base_url,
                )
            )
            self.stocks = self._tune(
                StockHistoricalDataClient(data_key, data_secret or "", raw_data=True, url_override=self.base_url)
            )
        else:
            self.stocks = None
        self.crypto = self._tune(
            CryptoHistoricalDataClient(data_key, data_secret, raw_data=True, url_override=self.base_url)
        )
        # The shared rate limiter (trading.exchanges.ratelimit): Alpaca allows 200 requests a minute per account.
        self.keyed = bool(data_key)
        self.limiter = ratelimit.Limiter(platform.id, data_key or None, default=(3, 20), name=platform.name)
        self.breaker = CircuitBreaker(
            platform.id, settings.EXCHANGE_CIRCUIT_THRESHOLD, settings.EXCHANGE_CIRCUIT_COOLDOWN_SECONDS
        )

    def _tune(self, client):
        """Every request of ``client`` with our timeout, and without the SDK's own 429/504 retry (ours does it)."""
        session = client._session
        session.request = functools.partial(session.request, timeout=self.timeout)
        client._retry = 0
        return client

    def __repr__(self):  # never show keys
        return f"<AlpacaExchange {self.environment} {'private' if self.has_keys else 'public'}>"

    # --- call machinery ----------------------------------------------------------------------------------------
    @staticmethod
    def _retryable(exc):
        if isinstance(exc, RETRYABLE):
            return True
        return isinstance(exc, APIError) and (exc.status_code == 429 or (exc.status_code or 0) >= 500)

    def _translate(self, exc, action):
        name = self.platform.name
        if isinstance(exc, APIError):
            status, message = exc.status_code or 0, _api_message(exc)
            if status == 403 and ("buying power" in message.lower() or "insufficient" in message.lower()):
                return InsufficientFunds(f"{name}: insufficient buying power for this order")
            if status in (401, 403):
                return AuthInvalid("Invalid API credentials")
            if status == 404:
                return NotFound("Order not found" if "order" in action else f"{name}: not found")
            if status == 429:
                return RateLimited(
                    f"Too many requests to {name}; try again shortly", retry_after=self.limiter.retry_after()
                )
            if status >= 500:
                return ProviderError(f"{name} is not reachable right now (HTTP {status} on {action})")
            return ProviderError(f"{name} rejected {action}: {message}")
        if isinstance(exc, RETRYABLE):
            return ProviderError(f"{name} is not reachable right now ({exc.__class__.__name__} on {action})")
        return ProviderError(f"{name} failed on {action}: {exc.__class__.__name__}")

    def _guard(self):
        if not self.breaker.allow():
            raise ProviderError(
                f"{self.platform.name} is temporarily unavailable (circuit open)",
                retry_after=self.breaker.retry_after(),
            )
        self.limiter.take(private=self.keyed)

    def _once(self, fn, *args, **kwargs):
        self._guard()
        try:
            result = fn(*args, **kwargs)
        except (APIError, *RETRYABLE) as exc:
            if isinstance(exc, APIError) and exc.status_code == 429:
                # Alpaca answered (it is up) and asks us to slow down: back the account off for every process.
                headers = getattr(exc.response, "headers", None) if exc._http_error is not None else None
                self.limiter.backoff(self.keyed, ratelimit.parse_retry_after(headers))
            elif self._retryable(exc):
                self.breaker.record_failure()
            else:
                self.breaker.record_success()  # Alpaca answered: it is up
            raise
        self.breaker.record_success()
        return result

    def _backoff(self, attempt, exc):
        if isinstance(exc, APIError) and exc.status_code == 429:
            return  # the shared back-off (ratelimit) holds the next request, for every process
        delay = self.retry_base * (2**attempt)
        time.sleep(delay * (1 + random.random() * 0.25))

    def _call(self, action, fn, *args, **kwargs):
        attempt = 0
        while True:
            try:
                return self._once(fn, *args, **kwargs)
            except (APIError, *RETRYABLE) as exc:
                if not self._retryable(exc):
                    logger.info("alpaca %s failed: HTTP %s", action, getattr(exc, "status_code", None))
                    raise self._translate(exc, action) from None
                logger.warning("alpaca %s: %s (attempt %d)", action, exc.__class__.__name__, attempt + 1)
                if attempt >= self.max_retries or self.breaker.state() != CircuitBreaker.CLOSED:
                    raise self._translate(exc, action) from None
                self._backoff(attempt, exc)
                attempt += 1
            except ValueError as exc:  # the SDK refusing an answer it cannot read
                raise ProviderError(f"{self.platform.name} sent an unexpected answer to {action}") from exc

    def _require_keys(self):
        if not self.has_keys:
            raise AuthInvalid("Invalid API credentials")

    def _stock_client(self):
        if self.stocks is None:
            raise ProviderError(
                "Alpaca US-stock market data needs keys: store Alpaca keys, or set ALPACA_DATA_KEY_ID and "
                "ALPACA_DATA_SECRET_KEY"
            )
        return self.stocks

    # --- markets -----------------------------------------------------------------------------------------------
    def _asset(self, symbol):
        """Alpaca's asset for ``symbol`` (cached for an hour), or None without keys."""
        if self.trading is None:
            return None
        key = (self.base_url, self.environment, symbol)
        with _assets_lock:
            cached = _assets_cache.get(key)
        if cached and cached[0] > time.time():
            return cached[1]
        lookup = symbol.replace("/", "") if is_crypto(symbol) else alpaca_symbol(symbol)
        try:
            asset = self._call("get_asset", self.trading.get_asset, lookup)
        except NotFound:
            raise ValidationFailed(f"Alpaca has no market {symbol}", details={"symbol": ["unknown market"]}) from None
        with _assets_lock:
            _assets_cache[key] = (time.time() + ASSETS_TTL, asset)
        return asset

    def _market_shape(self, symbol, asset=None):
        base, quote = symbol.split("/")
        if is_crypto(symbol):
            asset = asset or {}
            return {
                "symbol": symbol,
                "base": base,
                "quote": quote,
                "amount_precision": D(asset.get("min_trade_increment")) or Decimal("0.000000001"),
                "price_precision": D(asset.get("price_increment")) or Decimal("0.01"),
                "min_amount": D(asset.get("min_order_size")),
                "max_amount": None,
                "min_cost": None,
                "max_market_amount": None,
            }
        return {  # whole shares (see the module docstring)
            "symbol": symbol,
            "base": base,
            "quote": quote,
            "amount_precision": Decimal(1),
            "price_precision": Decimal("0.01"),
            "min_amount": Decimal(1),
            "max_amount": None,
            "min_cost": None,
            "max_market_amount": None,
        }

    def market(self, symbol):
        symbol = (symbol or "").upper()
        if symbol not in self.platform.symbols:
            raise ValidationFailed(
                f"{self.platform.name} has no market {symbol or '(empty)'}", details={"symbol": ["unknown market"]}
            )
        asset = self._asset(symbol)
        if asset is not None and (not asset.get("tradable", True) or asset.get("status") not in (None, "active")):
            raise ValidationFailed(f"Alpaca does not trade {symbol} now", details={"symbol": ["not tradable"]})
        return self._market_shape(symbol, asset)

    def load_markets(self):
        return {symbol: self.market(symbol) for symbol in self.platform.symbols}

    # --- market data -------------------------------------------------------------------------------------------
    def fetch_ticker(self, symbol):
        symbol = self._known(symbol)
        sym = alpaca_symbol(symbol)
        if is_crypto(symbol):
            quotes = self._call(
                "fetch_ticker", self.crypto.get_crypto_latest_quote, CryptoLatestQuoteRequest(symbol_or_symbols=sym)
            )
        else:
            client = self._stock_client()
            quotes = self._call(
                "fetch_ticker", client.get_stock_latest_quote, StockLatestQuoteRequest(symbol_or_symbols=sym)
            )
        quote = (quotes or {}).get(sym)
        if not quote:
            raise ProviderError(f"{self.platform.name} sent no quote for {symbol}")
        bid, ask = D(quote.get("bp")), D(quote.get("ap"))
        if not bid or not ask:  # one side of the book empty (pre-market): use the other for both
            bid = ask = bid or ask
        if not bid:
            raise ProviderError(f"{self.platform.name} has no price for {symbol} right now")
        return {"symbol": symbol, "bid": bid, "ask": ask, "last": (bid + ask) / 2, "timestamp": _ms(quote.get("t"))}

    def _known(self, symbol):
        symbol = (symbol or "").upper()
        if symbol not in self.platform.symbols:
            raise ValidationFailed(
                f"{self.platform.name} has no market {symbol or '(empty)'}", details={"symbol": ["unknown market"]}
            )
        return symbol

    def fetch_ohlcv(self, symbol, timeframe="1m", limit=100, since=None):
        """The latest ``limit`` candles (or ``limit`` from ``since`` ms on), oldest first."""
        symbol = self._known(symbol)
        if timeframe not in TIMEFRAMES:
            raise ValidationFailed(f"unsupported timeframe {timeframe}", details={"timeframe": ["unsupported"]})
        amount, unit, seconds = TIMEFRAMES[timeframe]
        limit = max(1, int(limit))
        sym = alpaca_symbol(symbol)
        if since is not None:
            window = {"start": datetime.fromtimestamp(since / 1000, UTC), "sort": Sort.ASC}
        else:  # newest first from far enough back (nights and weekends have no stock bars), then reversed
            span = timedelta(seconds=seconds * limit * (1 if is_crypto(symbol) else 7))
            window = {"start": datetime.now(UTC) - span - timedelta(days=4), "sort": Sort.DESC}
        fields = {"symbol_or_symbols": sym, "timeframe": TimeFrame(amount, unit), "limit": limit, **window}
        if is_crypto(symbol):
            bars = self._call("fetch_ohlcv", self.crypto.get_crypto_bars, CryptoBarsRequest(**fields))
        else:
            bars = self._call("fetch_ohlcv", self._stock_client().get_stock_bars, StockBarsRequest(**fields))
        rows = [
            [_ms(b.get("t")), D(b.get("o")), D(b.get("h")), D(b.get("l")), D(b.get("c")), D(b.get("v")) or Decimal(0)]
            for b in (bars or {}).get(sym) or []
        ]
        rows.sort(key=lambda row: row[0])
        return rows[-limit:] if since is None else rows[:limit]

    def ping(self):
        """One keyless call (the latest BTC/USD quote); the latency in ms. Never retried."""
        started = time.monotonic()
        try:
            self._once(self.crypto.get_crypto_latest_quote, CryptoLatestQuoteRequest(symbol_or_symbols="BTC/USD"))
        except (APIError, *RETRYABLE) as exc:
            raise self._translate(exc, "ping") from None
        return int((time.monotonic() - started) * 1000)

    def market_clock(self, symbol=None):
        """Crypto trades around the clock; US equities follow Alpaca's clock (GET /v2/clock)."""
        if symbol and is_crypto(symbol):
            return super().market_clock(symbol)
        if self.trading is None:
            raise AuthInvalid("Alpaca's market clock needs Alpaca keys")
        clock = self._call("market_clock", self.trading.get_clock)
        return {
            "is_open": bool(clock.get("is_open")),
            "next_open": _dt(clock.get("next_open")),
            "next_close": _dt(clock.get("next_close")),
            "session": SESSION,
        }

    # --- account -----------------------------------------------------------------------------------------------
    def test_connection(self):
        """GET /v2/account: the keys work; trading is allowed unless the account is not ACTIVE or trading/account is
        blocked. Alpaca's trading API cannot move money out, so withdraw is always False."""
        self._require_keys()
        account = self._call("test_connection", self.trading.get_account)
        status = str(account.get("status") or "").upper()
        blocked = bool(account.get("trading_blocked")) or bool(account.get("account_blocked"))
        number = str(account.get("account_number") or "")
        masked = f"****{number[-4:]}" if number else "(no number)"
        return {
            "permissions": {"read": True, "trade": status == "ACTIVE" and not blocked, "withdraw": False},
            "account": f"Alpaca {self.environment} account {masked} ({status.lower() or 'unknown'}"
            + (", trading blocked)" if blocked else ")"),
        }

    def fetch_balance(self):
        self._require_keys()
        account = self._call("fetch_balance", self.trading.get_account)
        positions = self._call("fetch_balance", self.trading.get_all_positions)
        cash = D(account.get("cash")) or Decimal(0)
        power = D(account.get("non_marginable_buying_power"))
        if power is None:
            power = D(account.get("buying_power")) or Decimal(0)
        free = max(Decimal(0), min(cash, power))
        balances = {"USD": {"free": free, "used": cash - free if cash > free else Decimal(0), "total": cash}}
        for position in positions or []:
            base = unified_symbol(position.get("symbol")).split("/")[0]
            total = D(position.get("qty")) or Decimal(0)
            available = D(position.get("qty_available"))
            available = total if available is None else available
            if total:
                balances[base] = {"free": available, "used": total - available, "total": total}
        return balances

    # --- orders ------------------------------------------------------------------------------------------------
    def _order_shape(self, o):
        amount, filled = D(o.get("qty")), D(o.get("filled_qty")) or Decimal(0)
        average, price = D(o.get("filled_avg_price")), D(o.get("limit_price"))
        kind = o.get("type") or o.get("order_type") or "market"
        return {
            "id": str(o.get("id")),
            "client_order_id": o.get("client_order_id"),
            "symbol": unified_symbol(o.get("symbol")),
            "type": kind,
            "side": o.get("side"),
            "amount": amount,
            "price": price or None,
            "filled": filled,
            "remaining": (amount - filled) if amount is not None else None,
            "average": average,
            "cost": filled * (average or price or Decimal(0)),
            "status": STATUS.get(o.get("status"), "open"),
            "fee": {"cost": Decimal(0), "currency": "USD"},
            "timestamp": _ms(o.get("submitted_at") or o.get("created_at")),
            "price_source": "exchange",
        }

    def _order_request(self, symbol, type, side, amount, price, client_order_id, options):
        tif = getattr(options, "time_in_force", None) or ("gtc" if is_crypto(symbol) else "day")
        common = {
            "symbol": alpaca_symbol(symbol),
            "qty": float(amount),
            "side": OrderSide.BUY if side == "buy" else OrderSide.SELL,
            "time_in_force": TimeInForce(tif),
            "client_order_id": client_order_id,
        }
        stop = D(getattr(options, "stop_price", None))
        if type == "limit":
            return LimitOrderRequest(**common, limit_price=float(price))
        if type == "stop":
            return StopOrderRequest(**common, stop_price=float(stop))
        if type == "stop_limit":
            return StopLimitOrderRequest(**common, stop_price=float(stop), limit_price=float(price))
        return MarketOrderRequest(**common)

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: Number,
        price: Number | None = None,
        client_order_id: str | None = None,
        options=None,
    ) -> dict:
        self._require_keys()
        market = self.market(symbol)
        symbol = market["symbol"]
        if type in ("stop", "stop_limit") and not D(getattr(options, "stop_price", None)):
            raise ValidationFailed(f"a {type} order needs a stop price", details={"stop_price": ["required"]})
        if type not in ("market", "limit", "stop", "stop_limit"):
            raise ValidationFailed(f"unsupported order type {type}", details={"type": ["unsupported"]})
        number = D(amount)
        if not is_crypto(symbol) and number is not None and round_to_step(number, Decimal(1), ROUND_DOWN) < 1:
            raise ValidationFailed(
                f"Alpaca trades {market['base']} in whole shares here: {number} rounds down to 0; order at least 1 "
                "share",
                details={"amount": ["below one whole share"]},
            )
        checked_type = "limit" if type in ("limit", "stop_limit") else "market"
        amount, price = self.check_order(market, checked_type, side, amount, price)
        client_order_id = client_order_id or f"amk{uuid.uuid4().hex[:24]}"
        request = self._order_request(symbol, type, side, amount, price, client_order_id, options)
        attempt = 0
        while True:
            try:
                return self._order_shape(self._once(self.trading.submit_order, request))
            except (APIError, *RETRYABLE) as exc:
                if not self._retryable(exc):
                    logger.info("alpaca create_order refused: HTTP %s", getattr(exc, "status_code", None))
                    raise self._translate(exc, "create_order") from None
                logger.warning(
                    "alpaca create_order %s: %s; looking the order up by client id",
                    client_order_id,
                    exc.__class__.__name__,
                )
                found = self._lookup_client_order(client_order_id)
                if found is not None:
                    return found
                if attempt >= self.max_retries or self.breaker.state() != CircuitBreaker.CLOSED:
                    raise self._translate(exc, "create_order") from None
                self._backoff(attempt, exc)
                attempt += 1

    def _lookup_client_order(self, client_order_id):
        """The order with this client id; None when Alpaca confirms there is none; ProviderError when unknown."""
        try:
            return self._order_shape(self._call("fetch_order", self.trading.get_order_by_client_id, client_order_id))
        except NotFound:
            return None
        except AuthInvalid:
            raise
        except Exception:  # noqa: BLE001 - unknown outcome: never send the order a second time
            raise ProviderError(
                f"{self.platform.name} did not confirm order {client_order_id}; its state is unknown, "
                "check Alpaca before retrying"
            ) from None

    def cancel_order(self, order_id, symbol=None):
        self._require_keys()
        self._call("cancel_order", self.trading.cancel_order_by_id, str(order_id))
        order = self.fetch_order(order_id, symbol)
        if order["status"] == "open":  # Alpaca accepted the cancel (pending_cancel): it is on its way out
            order["status"] = "canceled"
        return order

    def fetch_order(self, order_id, symbol=None):
        self._require_keys()
        return self._order_shape(self._call("fetch_order", self.trading.get_order_by_id, str(order_id)))

    def fetch_open_orders(self, symbol=None):
        self._require_keys()
        fields = {"status": QueryOrderStatus.OPEN, "limit": 500}
        if symbol:
            fields["symbols"] = [alpaca_symbol(self._known(symbol))]
        rows = self._call("fetch_open_orders", self.trading.get_orders, GetOrdersRequest(**fields))
        return [self._order_shape(row) for row in rows or []]

    def fetch_positions(self):
        """Alpaca's open positions: [{"symbol", "amount", "entry_price", "unrealised_pnl"}] (Decimal)."""
        self._require_keys()
        return [
            {
                "symbol": unified_symbol(p.get("symbol")),
                "amount": D(p.get("qty")) or Decimal(0),
                "entry_price": D(p.get("avg_entry_price")),
                "unrealised_pnl": D(p.get("unrealized_pl")),
            }
            for p in self._call("fetch_positions", self.trading.get_all_positions) or []
        ]


def from_keys(platform, keys, **options):
    """The adapter for ``keys`` (a stored credential or a KeySet): Key ID, secret and the ``environment`` extra."""
    environment = (keys.extras or {}).get("environment") or "paper"
    return AlpacaExchange(platform, keys.api_key, keys.api_secret, environment=environment, **options)


def public(platform, **options):
    return AlpacaExchange(platform, **options)
