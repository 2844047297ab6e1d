"""mStock (Mirae Asset, India): NSE equities through mStock's Type A trading API. The ONLY module that imports the
broker's SDK, ``mstock-tradingapi-a`` (PyPI 0.1.9, package ``tradingapi_a``, class ``MConnect``).

The SDK is usable and is what this adapter calls: ``verify_totp`` (login), ``get_fund_summary``, ``get_net_position``,
``get_holdings``, ``place_order``, ``cancel_order``, ``get_order_details``, ``get_order_book``, ``get_ltp`` and
``get_historical_chart``. It speaks ``https://api.mstock.trade/openapi/typea/...`` with the header
``Authorization: token <api_key>:<access_token>`` and form-encoded bodies; answers are
``{"status": "success", "data": ...}`` or ``{"status": "error", "message", "error_type"}``, which it raises as
``tradingapi_a.exceptions.<error_type>`` (``TokenException`` when the session is invalid or expired). Its base URL is
``MConnect.default_root_uri``: set from settings.MSTOCK_BASE_URL (tests point it at tests/fake_mstock). Three habits
of the SDK are neutralised here because they would leak secrets or weaken TLS:
- at import it attaches a FileHandler writing ``./mconnect.log`` to the logger "mconnect.log", and with its default
  ``debug=True`` it logs every request's body and headers (the TOTP code, the ``Authorization`` header with the access
  token): the import below swaps FileHandler for a NullHandler, and every client gets ``debug=False`` and a logger
  that drops everything;
- its default ``disable_ssl=True`` turns certificate checks off: clients are built with ``disable_ssl=False``.
  (Its constructor still silences urllib3's InsecureRequestWarning process-wide; nothing here relies on it.)

Login and session (the ROBOAi seed's flow): with TOTP enabled for the API, ``POST session/verifytotp`` with the API key
and a code generated here (pyotp) from the stored ``totp_secret`` returns the access token; no password is needed.
The token is kept encrypted on the credential (``keys.save_session``, per user) and reused by the next adapter; when
mStock answers a call with ``TokenException`` (or HTTP 401) the adapter logs in again ONCE, stores the new token and
retries that call once. A refused TOTP is ``AuthInvalid("mStock refused the TOTP code ... check the TOTP secret")``.
Neither the TOTP secret, the generated codes nor the session token is ever logged or put in an error message.
The API secret is stored (mStock issues it with the key; its OTP-by-SMS login signs a checksum with it) but the TOTP
login does not send it.

Markets: the catalogue's symbols ("RELIANCE/INR" = NSE ``RELIANCE``), whole shares (step 1, minimum 1), price tick
0.05 INR. Products: ``options.product`` MIS / CNC / NRML (CNC, delivery, by default); ``time_in_force`` "ioc" -> IOC,
anything else DAY (NSE orders live for the day); order types market, limit, stop (SL-M) and stop_limit (SL) with
``options.stop_price`` as the trigger. Orders carry a tag derived from the client order id: after a timeout the
order book is searched for it (found -> that order; confirmed absent -> sent again; unknown -> ProviderError), so an
order is never placed twice. Reads are retried on network errors and 5xx answers (settings.EXCHANGE_MAX_RETRIES, with
back-off); the shared rate limiter (ratelimit.py: a 429 backs the key off for every process) and the circuit breaker of
resilience.py guard every call.

Market data: mStock serves quotes and candles only to a logged-in account, so the keyless ``public()`` adapter answers
``ping`` (reachability) and refuses prices with a ProviderError that says so; an adapter built from a credential
fetches the last price (``instruments/quote/ltp``) and candles (``instruments/historical``) with that account's session.
"""

import hashlib
import logging
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pyotp
import requests
from django.conf import settings

from amarktai.errors import AuthInvalid, InsufficientFunds, NotFound, ProviderError, RateLimited, ValidationFailed
from trading import sessions
from trading.exchanges import ratelimit
from trading.exchanges.base import Exchange, Number
from trading.exchanges.base import decimal_or_none as D
from trading.exchanges.resilience import CircuitBreaker


def _import_sdk():
    """Import the SDK without the ./mconnect.log file its module creates at import (see the module docstring)."""
    real = logging.FileHandler
    logging.FileHandler = lambda *args, **kwargs: logging.NullHandler()  # type: ignore[assignment,misc]
    try:
        from tradingapi_a import exceptions, mconnect
    finally:
        logging.FileHandler = real  # type: ignore[misc]
    sdk_logger = logging.getLogger("mconnect.log")
    for handler in list(sdk_logger.handlers):
        sdk_logger.removeHandler(handler)
    sdk_logger.addHandler(logging.NullHandler())
    sdk_logger.propagate = False
    return mconnect, exceptions


mconnect, sdk_errors = _import_sdk()

logger = logging.getLogger(__name__)
# The logger handed to every MConnect: it would log request bodies and headers (TOTP codes, the access token).
_SILENT = logging.getLogger("amarktai.mstock.sdk")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False
_SILENT.setLevel(logging.CRITICAL + 1)

EXCHANGE = "NSE"
IST = ZoneInfo("Asia/Kolkata")
PRICE_TICK = Decimal("0.05")
# NSE instrument tokens of the catalogue's symbols (the scrip master's "instrument_token"), for historical candles.
INSTRUMENT_TOKENS = {"RELIANCE": "2885", "TCS": "11536", "INFY": "1594", "SBIN": "3045"}
INTERVALS = {"1m": "minute", "5m": "5minute", "15m": "15minute", "30m": "30minute", "1h": "60minute", "1d": "day"}
INTERVAL_MINUTES = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "1d": 1440}
PRODUCTS = ("MIS", "CNC", "NRML")
STATUS = {
    "traded": "closed",
    "complete": "closed",
    "completed": "closed",
    "filled": "closed",
    "executed": "closed",
    "rejected": "rejected",
    "cancelled": "canceled",
    "canceled": "canceled",
    "expired": "canceled",
}
ORDER_TYPES = {"market": "MARKET", "limit": "LIMIT", "stop": "SL-M", "stop_limit": "SL"}
TYPES_BACK = {"MARKET": "market", "LIMIT": "limit", "SL-M": "stop", "SL": "stop_limit"}
NETWORK_ERRORS = (requests.Timeout, requests.ConnectionError)
SESSION_REFUSED = "mStock refused the new session; log in to mStock and check the API key"
TOTP_REFUSED = "mStock refused the TOTP code generated from the stored TOTP secret: check the TOTP secret"


class _Retryable(Exception):
    """A 5xx answer or a network error: worth another try (reads), counted by the circuit breaker."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class _SessionExpired(Exception):
    pass


class _Refused(Exception):
    """mStock answered with an error of its own (4xx / status "error")."""

    def __init__(self, message, error_type="", code=400):
        super().__init__(message)
        self.message, self.error_type, self.code = message, error_type, code


def order_tag(client_order_id):
    """The tag an order carries on mStock (at most 20 letters and digits) for ``client_order_id``."""
    return "amk" + hashlib.sha256(client_order_id.encode()).hexdigest()[:17]


class MStockExchange(Exchange):
    def __init__(self, platform, keys=None, base_url=None, timeout_ms=None, max_retries=None):
        self.platform = platform
        self.platform_id = platform.id
        self.keys = keys
        self.base_url = (base_url or settings.MSTOCK_BASE_URL).rstrip("/") + "/"
        self.timeout = int(timeout_ms or settings.EXCHANGE_TIMEOUT_MS) / 1000
        self.max_retries = int(max_retries if max_retries is not None else settings.EXCHANGE_MAX_RETRIES)
        self.retry_base = float(settings.EXCHANGE_RETRY_BASE_SECONDS)
        api_key = keys.api_key if keys is not None else None
        self.client = mconnect.MConnect(
            api_key=api_key or None,
            access_Token=(keys.session or None) if keys is not None else None,
            timeout=self.timeout,
            debug=False,
            logger=_SILENT,
            disable_ssl=False,
        )
        self.client.default_root_uri = self.base_url
        # The shared rate limiter (trading.exchanges.ratelimit): the key's bucket and this host's.
        self.limiter = ratelimit.Limiter(platform.id, api_key or None, name=platform.name)
        self.breaker = CircuitBreaker(
            platform.id, settings.EXCHANGE_CIRCUIT_THRESHOLD, settings.EXCHANGE_CIRCUIT_COOLDOWN_SECONDS
        )

    def __repr__(self):  # never show keys or the session
        return f"<MStockExchange {'private' if self.keys is not None else 'public'}>"

    # --- session -----------------------------------------------------------------------------------------------
    def _require_keys(self):
        if self.keys is None or not self.keys.api_key:
            raise AuthInvalid("Invalid API credentials")

    def _login(self):
        """A new session from a TOTP generated now; kept encrypted on the credential. Raises AuthInvalid."""
        self._require_keys()
        secret = (self.keys.extras or {}).get("totp_secret", "")
        try:
            code = pyotp.TOTP(secret).now()
        except Exception:  # noqa: BLE001 - not base32 (a credential stored before validation): never echo it
            raise AuthInvalid("The stored mStock TOTP secret is not a valid base32 secret: enter it again") from None
        self.client.set_access_token(None)
        try:
            data = self._data(self._once("login", self.client.verify_totp, self.keys.api_key, code))
        except _Refused as exc:
            text = exc.message.lower()
            if "api" in text and "key" in text and "totp" not in text:
                raise AuthInvalid("mStock refused the API key: check the API key") from None
            raise AuthInvalid(TOTP_REFUSED) from None
        except _SessionExpired:
            raise AuthInvalid(TOTP_REFUSED) from None
        except _Retryable as exc:  # not retried: a code may be accepted only once
            raise self._translate(exc, "login") from None
        token = (data or {}).get("access_token") if isinstance(data, dict) else None
        if not token:
            raise ProviderError("mStock's login answer carried no session")
        self.client.set_access_token(token)
        self.client.set_api_key(self.keys.api_key)
        self.keys.save_session(token)
        logger.info("mstock: logged in (new session stored)")

    def _ensure_session(self):
        self._require_keys()
        if not self.client.access_token:
            self._login()

    # --- call machinery ----------------------------------------------------------------------------------------
    def _guard(self):
        if not self.breaker.allow():
            raise ProviderError(
                f"{self.platform.name} is temporarily unavailable (circuit open)",
                retry_after=self.breaker.retry_after(),
            )
        self.limiter.take(private=bool(self.keys is not None and self.keys.api_key))

    def _once(self, action, fn, *args):
        """One guarded SDK call. Returns the response; raises _Retryable, _SessionExpired or _Refused."""
        self._guard()
        try:
            response = fn(*args)
        except NETWORK_ERRORS as exc:
            self.breaker.record_failure()
            raise _Retryable(f"{exc.__class__.__name__} on {action}") from None
        except sdk_errors.NFeedException as exc:
            code = int(getattr(exc, "code", 500) or 500)
            if code >= 500 and exc.__class__.__name__ in ("GeneralException", "DataException"):
                self.breaker.record_failure()
                raise _Retryable(f"HTTP {code} on {action}") from None
            self.breaker.record_success()
            if isinstance(exc, sdk_errors.TokenException) or code == 401:
                raise _SessionExpired() from None
            raise _Refused(str(exc)[:200], exc.__class__.__name__, code) from None
        except requests.RequestException as exc:
            self.breaker.record_failure()
            raise _Retryable(f"{exc.__class__.__name__} on {action}") from None
        if not isinstance(response, requests.Response):  # a text/csv answer where JSON was due
            self.breaker.record_failure()
            raise _Retryable(f"an unexpected answer on {action}")
        if response.status_code >= 500:
            self.breaker.record_failure()
            raise _Retryable(f"HTTP {response.status_code} on {action}")
        self.breaker.record_success()
        if response.status_code == 429:  # slow down: back the key off for every process; the retry waits for it
            private = bool(self.keys is not None and self.keys.api_key)
            self.limiter.backoff(private, ratelimit.parse_retry_after(response.headers))
            raise _Retryable(f"HTTP 429 on {action}")
        if response.status_code == 401:
            raise _SessionExpired()
        return response

    @staticmethod
    def _data(response):
        try:
            body = response.json()
        except ValueError:
            raise ProviderError("mStock sent an answer that is not JSON") from None
        if isinstance(body, list):
            body = body[0] if body else {}
        return body.get("data")

    def _backoff(self, attempt):
        time.sleep(self.retry_base * (2**attempt) * (1 + random.random() * 0.25))

    def _translate(self, exc, action):
        name = self.platform.name
        if isinstance(exc, _Retryable) and exc.reason.startswith("HTTP 429"):
            return RateLimited(
                f"Too many requests to {name}; try again shortly", retry_after=self.limiter.retry_after()
            )
        if isinstance(exc, _Retryable):
            return ProviderError(f"{name} is not reachable right now ({exc.reason})")
        text = exc.message.lower()
        if "insufficient" in text or ("margin" in text and "exceed" in text):
            return InsufficientFunds(f"{name}: insufficient funds for this order")
        if "not found" in text or "invalid order" in text or "does not exist" in text:
            return NotFound("Order not found")
        return ProviderError(f"{name} rejected {action}: {exc.message}")

    def _call(self, action, fn, *args, retry=True):
        """An authenticated SDK call: the session is created when missing and renewed ONCE when mStock says it
        expired (then the call is retried once); network errors and 5xx retried with back-off when ``retry``.
        Returns the answer's ``data``."""
        self._ensure_session()
        relogged, attempt = False, 0
        while True:
            try:
                return self._data(self._once(action, fn, *args))
            except _SessionExpired:
                if relogged:
                    raise AuthInvalid(SESSION_REFUSED) from None
                logger.info("mstock %s: the session expired; logging in again", action)
                self._login()
                relogged = True
            except _Retryable as exc:
                logger.warning("mstock %s: %s (attempt %d)", action, exc.reason, attempt + 1)
                if not retry or attempt >= self.max_retries or self.breaker.state() != CircuitBreaker.CLOSED:
                    raise self._translate(exc, action) from None
                self._backoff(attempt)
                attempt += 1
            except _Refused as exc:
                logger.info("mstock %s refused: %s", action, exc.error_type)
                raise self._translate(exc, action) from None

    # --- markets -----------------------------------------------------------------------------------------------
    def _market_shape(self, symbol):
        base, quote = symbol.split("/")
        return {
            "symbol": symbol,
            "base": base,
            "quote": quote,
            "amount_precision": Decimal(1),
            "price_precision": PRICE_TICK,
            "min_amount": Decimal(1),
            # NSE's freeze quantity where it has one (trading.sessions): larger orders are split before they are sent.
            "max_amount": sessions.freeze_quantity(symbol),
            "min_cost": None,
            "max_market_amount": sessions.freeze_quantity(symbol),
        }

    def load_markets(self):
        return {symbol: self._market_shape(symbol) for symbol in self.platform.symbols}

    def market(self, symbol):
        symbol = (symbol or "").upper()
        if symbol not in self.platform.symbols:
            raise ValidationFailed(
                f"{self.platform.name} has no market {symbol or '(empty)'}", details={"symbol": ["unknown market"]}
            )
        return self._market_shape(symbol)

    @staticmethod
    def _trading_symbol(symbol):
        return symbol.split("/")[0]

    def _symbol_of(self, tradingsymbol):
        return f"{tradingsymbol}/{self.platform.quote}"

    # --- market data -------------------------------------------------------------------------------------------
    def _require_session_for_prices(self):
        if self.keys is None:
            raise ProviderError(
                "mStock serves prices only to a logged-in account: its market data comes through a stored credential"
            )

    def fetch_ticker(self, symbol):
        market = self.market(symbol)
        self._require_session_for_prices()
        instrument = f"{EXCHANGE}:{self._trading_symbol(market['symbol'])}"
        data = self._call("fetch_ticker", self.client.get_ltp, [instrument]) or {}
        quote = data.get(instrument) or {}
        last = D(quote.get("last_price"))
        if last is None:
            raise ProviderError(f"mStock sent no price for {market['symbol']}")
        now = int(time.time() * 1000)
        return {"symbol": market["symbol"], "bid": last, "ask": last, "last": last, "timestamp": now}

    def fetch_ohlcv(self, symbol, timeframe="1m", limit=100, since=None):
        market = self.market(symbol)
        self._require_session_for_prices()
        if timeframe not in INTERVALS:
            raise ValidationFailed(
                f"mStock has no {timeframe} candles; use one of {', '.join(INTERVALS)}",
                details={"timeframe": ["unsupported"]},
            )
        token = INSTRUMENT_TOKENS.get(self._trading_symbol(market["symbol"]))
        if token is None:
            raise ValidationFailed(f"no instrument token known for {market['symbol']}")
        span = timedelta(minutes=INTERVAL_MINUTES[timeframe])
        start = datetime.fromtimestamp(since / 1000, UTC) if since else datetime.now(UTC) - span * int(limit) * 3
        end = start + span * int(limit) * 3 if since else datetime.now(UTC)
        fmt = "%Y-%m-%d" if timeframe == "1d" else "%Y-%m-%d %H:%M:%S"
        data = self._call(
            "fetch_ohlcv",
            self.client.get_historical_chart,
            EXCHANGE,
            token,
            INTERVALS[timeframe],
            start.astimezone(IST).strftime(fmt),
            end.astimezone(IST).strftime(fmt),
        )
        rows = []
        for row in (data or {}).get("candles") or []:
            stamp = datetime.fromisoformat(str(row[0]))
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=IST)
            rows.append([int(stamp.timestamp() * 1000), D(row[1]), D(row[2]), D(row[3]), D(row[4]), D(row[5]) or 0])
        rows.sort(key=lambda r: r[0])
        if since:
            rows = [r for r in rows if r[0] >= since]
            return rows[: int(limit)]
        return rows[-int(limit) :]

    def ping(self):
        """One unauthenticated request to mStock's API host; any answer below 500 proves it is up. Latency in ms."""
        url = urljoin(self.base_url, self.client.routes["login"])
        self._guard()
        started = time.monotonic()
        try:
            response = self.client.request_session.get(url, timeout=self.timeout, headers={"X-Mirae-Version": "1"})
        except requests.RequestException as exc:
            self.breaker.record_failure()
            raise ProviderError(f"mStock is not reachable right now ({exc.__class__.__name__})") from None
        if response.status_code >= 500:
            self.breaker.record_failure()
            raise ProviderError(f"mStock is not reachable right now (HTTP {response.status_code})")
        self.breaker.record_success()
        return int((time.monotonic() - started) * 1000)

    def market_clock(self, symbol=None):
        """NSE's regular session (trading.sessions: 09:15-15:30 Asia/Kolkata, Monday to Friday; holidays not known)."""
        return sessions.market_clock(symbol or self.platform.default_symbol)

    # --- account -----------------------------------------------------------------------------------------------
    def test_connection(self):
        """Logs in (a TOTP from the stored secret) and reads the funds. mStock's trading API has no withdrawal call,
        so keys for it can read and trade and never withdraw."""
        self.fetch_balance()
        client_code = (self.keys.extras or {}).get("client_code", "")
        return {
            "permissions": {"read": True, "trade": True, "withdraw": False},
            "account": f"mStock client {client_code}".strip(),
        }

    def fetch_positions(self):
        """Open net positions: [{"symbol", "amount" (negative when short), "average_price", "last_price", "pnl",
        "product"}]."""
        data = self._call("fetch_positions", self.client.get_net_position)
        rows = data.get("net", []) if isinstance(data, dict) else (data or [])
        positions = []
        for row in rows:
            amount = D(row.get("quantity")) or Decimal(0)
            if amount == 0:
                continue
            positions.append(
                {
                    "symbol": self._symbol_of(row.get("tradingsymbol", "")),
                    "amount": amount,
                    "average_price": D(row.get("average_price")),
                    "last_price": D(row.get("last_price")),
                    "pnl": D(row.get("pnl")),
                    "product": row.get("product"),
                }
            )
        return positions

    def fetch_balance(self):
        """INR from the fund summary (free: available balance; used: amount utilised), and the shares held: holdings
        (settled) plus today's net positions."""
        data = self._call("fetch_balance", self.client.get_fund_summary)
        summary = (data[0] if isinstance(data, list) and data else data) or {}
        free = D(summary.get("AVAILABLE_BALANCE")) or Decimal(0)
        used = D(summary.get("AMOUNT_UTILIZED")) or Decimal(0)
        balances = {self.platform.quote: {"free": free, "used": used, "total": free + used}}
        shares: dict[str, Decimal] = {}
        for row in self._call("fetch_holdings", self.client.get_holdings) or []:
            base = row.get("tradingsymbol", "")
            shares[base] = shares.get(base, Decimal(0)) + (D(row.get("quantity")) or Decimal(0))
        for position in self.fetch_positions():
            base = position["symbol"].split("/")[0]
            shares[base] = shares.get(base, Decimal(0)) + position["amount"]
        for base, amount in sorted(shares.items()):
            if amount:
                balances[base] = {"free": amount, "used": Decimal(0), "total": amount}
        return balances

    # --- orders ------------------------------------------------------------------------------------------------
    def _order_shape(self, row, client_order_id=None):
        amount = D(row.get("quantity"))
        filled = D(row.get("filled_quantity")) or Decimal(0)
        status = STATUS.get(str(row.get("status", "")).lower(), "open")
        pending = D(row.get("pending_quantity"))
        remaining = Decimal(0) if status != "open" else (pending if pending is not None else (amount or 0) - filled)
        average = D(row.get("average_price")) or None
        price = D(row.get("price")) or None
        order = {
            "id": str(row.get("order_id")),
            "client_order_id": client_order_id,
            "symbol": self._symbol_of(row.get("tradingsymbol", "")),
            "type": TYPES_BACK.get(str(row.get("order_type", "")).upper(), "market"),
            "side": str(row.get("transaction_type", "")).lower(),
            "amount": amount,
            "price": price,
            "filled": filled,
            "remaining": remaining,
            "average": average,
            "cost": filled * (average or price or Decimal(0)),
            "status": status,
            "fee": {"cost": Decimal(0), "currency": self.platform.quote},
            "timestamp": self._timestamp(row.get("order_timestamp")),
            "price_source": "exchange",
            "product": row.get("product"),
        }
        if status == "rejected" and row.get("status_message"):
            order["reason"] = str(row["status_message"])[:200]
        return order

    @staticmethod
    def _timestamp(text):
        try:
            stamp = datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=IST)
        except ValueError:
            return int(time.time() * 1000)
        return int(stamp.timestamp() * 1000)

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
        stop_price = D(getattr(options, "stop_price", None))
        if type in ("stop", "stop_limit") and stop_price is None:
            raise ValidationFailed(f"a {type} order needs a stop price", details={"stop_price": ["required"]})
        if type not in ORDER_TYPES:
            raise ValidationFailed(f"mStock takes no {type} orders", details={"type": ["unsupported"]})
        amount, limit_price = self.check_order(
            market, "limit" if type == "stop_limit" else type if type != "stop" else "market", side, amount, price
        )
        product = (getattr(options, "product", None) or "CNC").upper()
        if product not in PRODUCTS:
            raise ValidationFailed(f"product must be one of {', '.join(PRODUCTS)}", details={"product": ["invalid"]})
        validity = "IOC" if str(getattr(options, "time_in_force", "") or "").lower() == "ioc" else "DAY"
        client_order_id = client_order_id or f"amk{uuid.uuid4().hex[:24]}"
        tag = order_tag(client_order_id)
        args = (
            "regular",
            self._trading_symbol(market["symbol"]),
            EXCHANGE,
            side.upper(),
            ORDER_TYPES[type],
            str(int(amount)),
            product,
            validity,
            str(limit_price or 0),
            str(stop_price or 0),
            "0",
            tag,
        )
        self._ensure_session()
        relogged, attempt = False, 0
        while True:
            try:
                data = self._data(self._once("create_order", self.client.place_order, *args))
                break
            except _SessionExpired:  # mStock placed nothing: it refused the session
                if relogged:
                    raise AuthInvalid(SESSION_REFUSED) from None
                logger.info("mstock create_order: the session expired; logging in again")
                self._login()
                relogged = True
            except _Retryable as exc:
                logger.warning("mstock create_order: %s; looking the order up by its tag", exc.reason)
                found = self._find_tagged(tag, client_order_id)
                if found is not None:
                    return found
                if attempt >= self.max_retries or self.breaker.state() != CircuitBreaker.CLOSED:
                    raise self._translate(exc, "create_order") from None
                self._backoff(attempt)
                attempt += 1
            except _Refused as exc:
                logger.info("mstock create_order refused: %s", exc.error_type)
                raise self._translate(exc, "create_order") from None
        order_id = (data or {}).get("order_id") if isinstance(data, dict) else None
        if not order_id:
            raise ProviderError("mStock accepted the order but sent no order id; check the order book")
        try:
            return self.fetch_order(order_id, market["symbol"], client_order_id=client_order_id)
        except (ProviderError, NotFound):  # placed; its state will be read on the next sync
            return {
                **self._order_shape(
                    {
                        "order_id": order_id,
                        "tradingsymbol": args[1],
                        "order_type": args[4],
                        "transaction_type": args[3],
                        "quantity": args[5],
                        "price": args[8],
                        "status": "open",
                    },
                    client_order_id,
                ),
            }

    def _find_tagged(self, tag, client_order_id):
        """The order carrying ``tag`` in the order book, None when the book confirms there is none; ProviderError when
        the book cannot be read (then nothing is sent again)."""
        try:
            rows = self._call("fetch_orders", self.client.get_order_book) or []
        except (ProviderError, RateLimited):
            raise ProviderError(
                f"mStock did not confirm order {client_order_id}; its state is unknown, check the order book before "
                "retrying"
            ) from None
        for row in rows:
            if row.get("tag") == tag:
                return self._order_shape(row, client_order_id)
        return None

    def cancel_order(self, order_id, symbol=None):
        self._require_keys()
        self._call("cancel_order", self.client.cancel_order, str(order_id), retry=False)
        order = self.fetch_order(order_id, symbol)
        if order["status"] == "open":
            order["status"] = "canceled"
        return order

    def fetch_order(self, order_id, symbol=None, client_order_id=None):
        self._require_keys()
        data = self._call("fetch_order", self.client.get_order_details, str(order_id), "E")
        rows = data if isinstance(data, list) else [data] if data else []
        if not rows:
            raise NotFound("Order not found")
        return self._order_shape(rows[-1], client_order_id)

    def fetch_open_orders(self, symbol=None):
        self._require_keys()
        market = self.market(symbol) if symbol else None
        rows = self._call("fetch_open_orders", self.client.get_order_book) or []
        orders = [self._order_shape(row) for row in rows]
        return [o for o in orders if o["status"] == "open" and (market is None or o["symbol"] == market["symbol"])]


def from_keys(platform, keys, **options):
    """The adapter for ``keys`` (a stored credential or a KeySet): see trading.exchanges.ADAPTERS."""
    return MStockExchange(platform, keys, **options)


def public(platform, **options):
    return MStockExchange(platform, None, **options)
