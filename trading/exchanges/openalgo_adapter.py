"""The OpenAlgo adapter: a user's self-hosted OpenAlgo gateway (https://docs.openalgo.in), which fronts 25+ Indian
brokers behind one REST API. The ONLY module that talks to OpenAlgo.

Why httpx and not the ``openalgo`` package: the package's current release (2.0.x) requires Python >= 3.12 while
Amarktai runs on 3.11 (Dockerfile), and the last release that installs on 3.11 (1.0.47) imports pandas, numpy and
websocket-client at import time (pandas is not otherwise a dependency of Amarktai), has no ``ping`` call, and turns
every transport failure (timeout, refused connection, 5xx) into a plain ``{"status": "error"}`` dict, which would hide
the difference between "the gateway refused the order" and "we do not know whether the order was placed". OpenAlgo's
REST API is small and documented, so this module speaks it directly with httpx (already a dependency): every call is
``POST {host_url}/api/v1/<endpoint>`` with a JSON body carrying ``apikey``.

Endpoints used: ping (test connection: names the broker behind the gateway), funds, holdings, positionbook, orderbook,
orderstatus, placeorder, splitorder, cancelorder, margin, quotes, history, symbol.

- Credentials: the API key only (``secret_required=False``) and the extra field ``host_url`` (not secret): the user's
  own gateway. The host is user-given, so it is treated as untrusted (SSRF): only ``http``/``https`` URLs without
  user info, query or fragment are accepted, redirects are never followed, and when settings.OPENALGO_ALLOWED_HOSTS
  is set (admins: host names, ``*.example.com`` allowed) the host must be one of them; unless
  settings.OPENALGO_ALLOW_PRIVATE_HOSTS (on only in the embedded default) a host that is or resolves to a loopback,
  private, link-local or reserved address is refused. See docs/security.md.
- Symbols: ``RELIANCE/INR`` is ``RELIANCE`` on ``NSE`` (``options.exchange`` may name another exchange). Products
  (MIS intraday, CNC delivery, NRML carry-forward) come from ``options.product``; CNC is the default.
- Orders: market -> MARKET, limit -> LIMIT, stop -> SL-M, stop_limit -> SL (``options.stop_price`` is the trigger).
  Before anything is sent the gateway's margin endpoint prices the order and the funds endpoint says what is available:
  short -> InsufficientFunds, nothing sent. An order above the instrument's freeze quantity (the ``freeze_qty`` of the
  gateway's symbol answer) goes out as ONE ``splitorder`` call and comes back as one logical order whose ``children``
  list holds each child order; trading.services records the children as child orders of the platform's order.
  Orders are never retried: OpenAlgo has no client order id to look an order up by, so after a timeout or a 5xx on
  placement the adapter raises ProviderError saying the order's state is unknown (check the gateway's order book),
  and nothing is sent a second time.
- Reads are retried on timeouts, refused connections and 5xx answers (settings.EXCHANGE_MAX_RETRIES, backoff
  EXCHANGE_RETRY_BASE_SECONDS); each gateway has its own circuit breaker and rate bucket (keyed by its host).
- Errors: 401/403 -> AuthInvalid; 429 -> RateLimited; a gateway's refusal (``status: error``) -> ProviderError with the
  gateway's message; timeouts and 5xx -> ProviderError. Messages never contain the API key.
- Fees: OpenAlgo does not report charges per order; fills carry fee 0 INR (the broker's contract note has the charges).
"""

import hashlib
import ipaddress
import logging
import random
import socket
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from fnmatch import fnmatch
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
from django.conf import settings

from amarktai.errors import AuthInvalid, InsufficientFunds, NotFound, ProviderError, RateLimited, ValidationFailed
from trading import sessions
from trading.exchanges import ratelimit
from trading.exchanges.base import Exchange
from trading.exchanges.base import decimal_or_none as D
from trading.exchanges.resilience import CircuitBreaker

logger = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
PRODUCTS = ("MIS", "CNC", "NRML")
DEFAULT_PRODUCT = "CNC"
DEFAULT_EXCHANGE = "NSE"
PRICE_TYPES = {"market": "MARKET", "limit": "LIMIT", "stop": "SL-M", "stop_limit": "SL"}
TYPES = {value: key for key, value in PRICE_TYPES.items()}
STATUS = {
    "complete": "closed",
    "completed": "closed",
    "filled": "closed",
    "open": "open",
    "pending": "open",
    "trigger pending": "open",
    "validation pending": "open",
    "put order req received": "open",
    "cancelled": "canceled",
    "canceled": "canceled",
    "rejected": "rejected",
}
INTERVALS = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1h", "1d": "D"}
INTERVAL_MINUTES = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "1d": 1440}
WRITES = frozenset({"placeorder", "splitorder", "cancelorder", "modifyorder"})
INSTRUMENT_TTL = 3600

_instruments: dict = {}  # (host, exchange, symbol) -> (expires, {"lot", "tick", "freeze"})
_instruments_lock = threading.Lock()


def reset_state():
    """Forget cached instrument details (tests)."""
    with _instruments_lock:
        _instruments.clear()


def check_host(url):
    """The gateway URL as given, if it may be called: http(s), a host, no user info, query or fragment, and (when
    settings.OPENALGO_ALLOWED_HOSTS names hosts) one of those. Raises ValidationFailed otherwise."""
    url = (url or "").strip()
    parts = urlsplit(url)
    problem = None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        problem = "must be an http:// or https:// URL"
    elif parts.username or parts.password or parts.query or parts.fragment:
        problem = "must not carry a user name, password, query or fragment"
    else:
        allowed = [h.strip().lower() for h in settings.OPENALGO_ALLOWED_HOSTS if h.strip()]
        if allowed and not any(fnmatch(parts.hostname.lower(), pattern) for pattern in allowed):
            problem = "is not one of the gateway hosts this platform allows"
        elif not settings.OPENALGO_ALLOW_PRIVATE_HOSTS and not _public_host(parts):
            problem = "must be a public address (loopback, private and link-local addresses are refused)"
    if problem:
        raise ValidationFailed(f"OpenAlgo gateway URL {problem}", details={"host_url": [problem]})
    return url.rstrip("/")


def _public_host(parts):
    """Whether every address the URL's host names or resolves to is a public one."""
    host = parts.hostname or ""
    try:
        addresses = [host] if ipaddress.ip_address(host) else []
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            return False
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
        except (OSError, ValueError):
            return False
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local:
            return False
    return bool(addresses)


def split_symbol(symbol):
    """``RELIANCE/INR`` -> ``RELIANCE`` (the quote is always INR on Indian exchanges)."""
    base, _, quote = (symbol or "").upper().partition("/")
    if not base or quote not in ("", "INR"):
        raise ValidationFailed(f"OpenAlgo has no market {symbol or '(empty)'}", details={"symbol": ["unknown market"]})
    return base


def _order_option(options, name, default=None):
    value = getattr(options, name, None) if options is not None else None
    if value is None and isinstance(options, dict):
        value = options.get(name)
    return value if value not in (None, "") else default


class OpenAlgoExchange(Exchange):
    def __init__(self, platform, api_key="", host_url="", timeout_ms=None, max_retries=None, trusted=False):
        self.platform = platform
        self.platform_id = platform.id
        self.api_key = api_key or ""
        # A user's URL is checked (SSRF); the operator's own market-data gateway (``trusted``) is not.
        self.host = (host_url.strip().rstrip("/") if trusted else check_host(host_url)) if host_url else ""
        self.timeout = int(timeout_ms or settings.EXCHANGE_TIMEOUT_MS) / 1000
        self.max_retries = int(max_retries if max_retries is not None else settings.EXCHANGE_MAX_RETRIES)
        self.retry_base = float(settings.EXCHANGE_RETRY_BASE_SECONDS)
        # One gateway per user: its own breaker and bucket, so one user's dead gateway never blocks another's.
        gateway = hashlib.sha256(self.host.encode()).hexdigest()[:16]
        # The shared rate limiter (trading.exchanges.ratelimit): per gateway, its key's bucket and this host's.
        self.limiter = ratelimit.Limiter(f"{platform.id}:{gateway}", self.api_key or None, name="your OpenAlgo gateway")
        self.breaker = CircuitBreaker(
            f"{platform.id}:{gateway}", settings.EXCHANGE_CIRCUIT_THRESHOLD, settings.EXCHANGE_CIRCUIT_COOLDOWN_SECONDS
        )

    def __repr__(self):  # never show the key
        return f"<OpenAlgoExchange {self.host or '(no gateway)'} {'private' if self.api_key else 'public'}>"

    # --- call machinery ----------------------------------------------------------------------------------------
    def _clean(self, message):
        text = str(message or "")[:200]
        return text.replace(self.api_key, "***") if self.api_key else text

    def _require(self):
        if not self.host:
            raise ProviderError(
                "OpenAlgo runs on your own gateway: store its URL (host_url) and API key to reach it; shared live "
                "market data needs the operator's gateway (OPENALGO_DATA_HOST_URL)",
            )
        if not self.api_key:
            raise AuthInvalid("Invalid API credentials")

    def _guard(self):
        if not self.breaker.allow():
            raise ProviderError(
                "Your OpenAlgo gateway is temporarily unavailable (circuit open)",
                retry_after=self.breaker.retry_after(),
            )
        self.limiter.take(private=bool(self.api_key))

    def _once(self, endpoint, payload):
        """One POST. Returns the decoded answer of a 2xx; raises _Transient for timeouts, refused connections and 5xx
        (counted by the breaker) and domain errors for the gateway's own refusals."""
        self._guard()
        body = {"apikey": self.api_key, **payload}
        try:
            response = httpx.post(
                f"{self.host}/api/v1/{endpoint}", json=body, timeout=self.timeout, follow_redirects=False
            )
        except httpx.TimeoutException:
            self.breaker.record_failure()
            raise _Transient(f"timeout on {endpoint}") from None
        except httpx.TransportError as exc:
            self.breaker.record_failure()
            raise _Transient(f"{exc.__class__.__name__} on {endpoint}") from None
        if response.status_code >= 500:
            self.breaker.record_failure()
            raise _Transient(f"HTTP {response.status_code} on {endpoint}")
        self.breaker.record_success()
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {"data": data}
        message = self._clean(data.get("message") or f"HTTP {response.status_code}")
        if response.status_code in (401, 403):
            raise AuthInvalid("Invalid API credentials")
        if response.status_code == 429:  # back off this gateway's key for every process (Retry-After honoured)
            seconds = self.limiter.backoff(
                bool(self.api_key), ratelimit.parse_retry_after(response.headers), str(response.status_code)
            )
            raise RateLimited(
                "Your OpenAlgo gateway asks to slow down; try again shortly", retry_after=max(1, int(seconds + 0.999))
            )
        if 300 <= response.status_code < 400:
            raise ProviderError(f"Your OpenAlgo gateway answered {endpoint} with a redirect; give its final URL")
        if response.status_code == 404 and endpoint in ("orderstatus",):
            raise NotFound("Order not found")
        if response.status_code >= 400 or data.get("status") == "error":
            if "insufficient" in message.lower():
                raise InsufficientFunds(f"OpenAlgo: {message}")
            raise ProviderError(f"OpenAlgo rejected {endpoint}: {message}")
        return data

    def _call(self, endpoint, payload=None):
        """A guarded call: reads are retried with backoff on transient failures, writes never (see the docstring)."""
        self._require()
        attempt = 0
        while True:
            try:
                return self._once(endpoint, payload or {})
            except _Transient as exc:
                logger.warning("openalgo %s: %s (attempt %d)", endpoint, exc, attempt + 1)
                if endpoint in WRITES:
                    raise ProviderError(
                        f"Your OpenAlgo gateway did not answer {endpoint} ({exc}); the order's state is unknown, "
                        "check the gateway's order book before retrying"
                    ) from None
                if attempt >= self.max_retries or self.breaker.state() != CircuitBreaker.CLOSED:
                    raise ProviderError(f"Your OpenAlgo gateway is not reachable right now ({exc})") from None
                time.sleep(self.retry_base * (2**attempt) * (1 + random.random() * 0.25))
                attempt += 1

    # --- connection --------------------------------------------------------------------------------------------
    def ping(self):
        """Milliseconds one ``ping`` took (never retried)."""
        self._require()
        started = time.monotonic()
        try:
            self._once("ping", {})
        except _Transient as exc:
            raise ProviderError(f"Your OpenAlgo gateway is not reachable right now ({exc})") from None
        return int((time.monotonic() - started) * 1000)

    def test_connection(self):
        """``ping``: proves the key and names the broker behind the gateway. OpenAlgo's API can read and trade but has
        no call that moves money out of the account."""
        data = self._call("ping").get("data") or {}
        broker = str(data.get("broker") or "").strip()[:60] or "unknown broker"
        return {
            "permissions": {"read": True, "trade": True, "withdraw": False},
            "account": f"OpenAlgo gateway, broker {broker}",
        }

    def market_clock(self, symbol=None):
        """NSE's cash session (trading.sessions: 09:15-15:30 Asia/Kolkata, Monday to Friday; holidays not known)."""
        return sessions.market_clock(symbol or self.platform.default_symbol)

    # --- markets -----------------------------------------------------------------------------------------------
    def _market_shape(self, symbol, instrument=None):
        instrument = instrument or {}
        return {
            "symbol": symbol,
            "base": symbol.split("/")[0],
            "quote": "INR",
            "amount_precision": instrument.get("lot") or Decimal(1),
            "price_precision": instrument.get("tick") or Decimal("0.05"),
            "min_amount": instrument.get("lot") or Decimal(1),
            # Above the freeze quantity the adapter splits the order itself (splitorder): no maximum to refuse.
            "max_amount": None,
            "min_cost": None,
            "max_market_amount": None,
        }

    def load_markets(self):
        """The catalogue's symbols (no call: instrument details are fetched per order, see _instrument)."""
        return {symbol: self._market_shape(symbol) for symbol in self.platform.symbols}

    def market(self, symbol):
        symbol = (symbol or "").upper()
        if symbol not in self.platform.symbols:
            raise ValidationFailed(
                f"{self.platform.name} has no market {symbol or '(empty)'}", details={"symbol": ["unknown market"]}
            )
        return self._market_shape(symbol)

    def _instrument(self, base, exchange):
        """Lot size, tick size and freeze quantity from the gateway's ``symbol`` answer, cached an hour per gateway."""
        key = (self.host, exchange, base)
        with _instruments_lock:
            cached = _instruments.get(key)
        if cached and cached[0] > time.time():
            return cached[1]
        data = self._call("symbol", {"symbol": base, "exchange": exchange}).get("data") or {}
        freeze = D(data.get("freeze_qty"))
        details = {
            "lot": D(data.get("lotsize")) or Decimal(1),
            "tick": D(data.get("tick_size")) or Decimal("0.05"),
            "freeze": freeze if freeze and freeze > 0 else None,
        }
        with _instruments_lock:
            _instruments[key] = (time.time() + INSTRUMENT_TTL, details)
        return details

    # --- market data -------------------------------------------------------------------------------------------
    def fetch_ticker(self, symbol, exchange=DEFAULT_EXCHANGE):
        market = self.market(symbol)
        data = self._call("quotes", {"symbol": split_symbol(symbol), "exchange": exchange}).get("data") or {}
        last = D(data.get("ltp"))
        return {
            "symbol": market["symbol"],
            "bid": D(data.get("bid")) or last,
            "ask": D(data.get("ask")) or last,
            "last": last,
            "timestamp": int(time.time() * 1000),
        }

    def fetch_ohlcv(self, symbol, timeframe="1m", limit=100, since=None):
        market = self.market(symbol)
        if timeframe not in INTERVALS:
            raise ValidationFailed(f"OpenAlgo has no {timeframe} candles", details={"timeframe": ["unsupported"]})
        limit = max(1, min(int(limit), 1000))
        minutes = INTERVAL_MINUTES[timeframe]
        now = datetime.now(IST)
        start = (
            datetime.fromtimestamp(int(since) / 1000, IST)
            if since is not None
            else now - timedelta(minutes=minutes * limit * 4 + 4 * 1440)  # sessions are 6h15 a weekday: reach back
        )
        payload = {
            "symbol": split_symbol(market["symbol"]),
            "exchange": DEFAULT_EXCHANGE,
            "interval": INTERVALS[timeframe],
            "start_date": start.date().isoformat(),
            "end_date": now.date().isoformat(),
        }
        rows = self._call("history", payload).get("data") or []
        candles = []
        for row in rows:
            ts = int(row.get("timestamp") or 0)
            ts_ms = ts * 1000 if ts < 10**11 else ts
            if since is not None and ts_ms < int(since):
                continue
            candles.append(
                [
                    ts_ms,
                    D(row.get("open")),
                    D(row.get("high")),
                    D(row.get("low")),
                    D(row.get("close")),
                    D(row.get("volume")) or Decimal(0),
                ]
            )
        candles.sort(key=lambda c: c[0])
        return candles[:limit] if since is not None else candles[-limit:]

    # --- account -----------------------------------------------------------------------------------------------
    def fetch_balance(self):
        """INR from ``funds`` (availablecash free, utiliseddebits used) and each held stock from ``holdings`` and
        ``positionbook`` (today's delivery buys are positions until they settle into holdings)."""
        funds = self._call("funds").get("data") or {}
        free, used = D(funds.get("availablecash")) or Decimal(0), D(funds.get("utiliseddebits")) or Decimal(0)
        balances = {"INR": {"free": free, "used": used, "total": free + used}}
        held: dict[str, Decimal] = {}
        holdings = self._call("holdings").get("data") or {}
        rows = list(holdings.get("holdings", []) if isinstance(holdings, dict) else holdings)
        rows += self._call("positionbook").get("data") or []
        for row in rows:
            name = str(row.get("symbol", "")).upper()
            held[name] = held.get(name, Decimal(0)) + (D(row.get("quantity")) or Decimal(0))
        for name, quantity in sorted(held.items()):
            if name and quantity > 0:
                balances[name] = {"free": quantity, "used": Decimal(0), "total": quantity}
        return balances

    def fetch_positions(self):
        """The gateway's position book: [{"symbol", "exchange", "product", "amount", "average"}]."""
        return [
            {
                "symbol": f"{str(row.get('symbol', '')).upper()}/INR",
                "exchange": row.get("exchange"),
                "product": row.get("product"),
                "amount": D(row.get("quantity")) or Decimal(0),
                "average": D(row.get("average_price")),
            }
            for row in self._call("positionbook").get("data") or []
        ]

    # --- orders ------------------------------------------------------------------------------------------------
    def _order_shape(self, data, order_id=None, client_order_id=None):
        status = STATUS.get(str(data.get("order_status") or data.get("status") or "").strip().lower(), "open")
        amount = D(data.get("quantity")) or Decimal(0)
        filled = D(data.get("filled_quantity"))
        if filled is None:
            filled = amount if status == "closed" else Decimal(0)
        average = D(data.get("average_price")) or (D(data.get("price")) if status == "closed" else None) or None
        price = D(data.get("price")) or None
        symbol = str(data.get("symbol") or "").upper()
        return {
            "id": str(data.get("orderid") or order_id or ""),
            "client_order_id": client_order_id,
            "symbol": f"{symbol}/INR" if symbol else None,
            "type": TYPES.get(str(data.get("pricetype") or "").upper(), "market"),
            "side": str(data.get("action") or "").lower() or None,
            "amount": amount,
            "price": price,
            "filled": filled,
            "remaining": amount - filled,
            "average": average if filled else None,
            "cost": filled * (average or Decimal(0)),
            "status": status,
            "fee": {"cost": Decimal(0), "currency": "INR"},
            "timestamp": int(time.time() * 1000),
            "price_source": "exchange",
            "product": data.get("product"),
            "exchange": data.get("exchange"),
        }

    def _status(self, order_id, client_order_id=None):
        data = self._call("orderstatus", {"orderid": str(order_id)}).get("data") or {}
        if not data:
            raise NotFound("Order not found")
        return self._order_shape(data, order_id, client_order_id)

    def _check_margin(self, position, quantity):
        """Refuse (InsufficientFunds, nothing sent) when the gateway prices the order above the available cash."""
        answer = self._call("margin", {"positions": [{**position, "quantity": str(quantity)}]}).get("data") or {}
        required = D(answer.get("total_margin_required"))
        if required is None:
            raise ProviderError("Your OpenAlgo gateway did not price the order's margin; nothing was sent")
        available = D((self._call("funds").get("data") or {}).get("availablecash")) or Decimal(0)
        if required > available:
            raise InsufficientFunds(
                f"OpenAlgo: this order needs {required} INR of margin, the account has {available} INR available",
                details={"amount": ["insufficient margin"]},
            )

    def create_order(self, symbol, type, side, amount, price=None, client_order_id=None, options=None):
        self._require()
        market = self.market(symbol)
        base = split_symbol(market["symbol"])
        exchange = str(_order_option(options, "exchange", DEFAULT_EXCHANGE)).upper()
        product = str(_order_option(options, "product", DEFAULT_PRODUCT)).upper()
        if product not in PRODUCTS:
            raise ValidationFailed(f"product must be one of {', '.join(PRODUCTS)}", details={"product": ["invalid"]})
        if type not in PRICE_TYPES:
            raise ValidationFailed(f"OpenAlgo takes no {type} orders", details={"type": ["unsupported"]})
        stop_price = D(_order_option(options, "stop_price"))
        if type in ("stop", "stop_limit") and not stop_price:
            raise ValidationFailed("a stop order needs a stop price", details={"stop_price": ["required"]})
        instrument = self._instrument(base, exchange)
        shape = self._market_shape(market["symbol"], instrument)
        checked_as = {"stop": "market", "stop_limit": "limit"}.get(type, type)  # SL-M has no limit price, SL has one
        quantity, limit_price = self.check_order(shape, checked_as, side, amount, price)
        quantity = int(quantity)
        order = {
            "symbol": base,
            "exchange": exchange,
            "action": side.upper(),
            "product": product,
            "pricetype": PRICE_TYPES[type],
            "price": str(limit_price or 0),
            "trigger_price": str(stop_price or 0),
        }
        self._check_margin(order, quantity)
        freeze = instrument["freeze"]
        if freeze and quantity > freeze:
            return self._split(order, quantity, int(freeze), client_order_id)
        answer = self._call("placeorder", {"strategy": "Amarktai", **order, "quantity": str(quantity)})
        order_id = answer.get("orderid")
        if not order_id:
            raise ProviderError("Your OpenAlgo gateway accepted the order without an order id; check its order book")
        return self._status(order_id, client_order_id)

    def _split(self, order, quantity, freeze, client_order_id):
        """One ``splitorder`` call at the freeze quantity; one logical order with its children."""
        answer = self._call(
            "splitorder", {"strategy": "Amarktai", **order, "quantity": str(quantity), "splitsize": str(freeze)}
        )
        children = []
        for i, result in enumerate(answer.get("results") or []):
            child_cid = f"{client_order_id}-{i}" if client_order_id else None
            if result.get("status") == "success" and result.get("orderid"):
                child = self._status(result["orderid"], child_cid)
            else:
                child = self._order_shape(
                    {**order, "quantity": result.get("quantity"), "order_status": "rejected"}, "", child_cid
                )
                child["reason"] = self._clean(result.get("message") or "rejected by the gateway")
            children.append(child)
        if not children:
            raise ProviderError("Your OpenAlgo gateway split the order into nothing; check its order book")
        filled = sum((c["filled"] for c in children), Decimal(0))
        cost = sum((c["cost"] for c in children), Decimal(0))
        statuses = {c["status"] for c in children}
        if statuses == {"closed"}:
            status = "closed"
        elif statuses <= {"canceled", "rejected"}:
            status = "canceled" if "canceled" in statuses else "rejected"
        else:
            status = "open"
        first = children[0]
        return {
            **first,
            "id": next((c["id"] for c in children if c["id"]), ""),
            "client_order_id": client_order_id,
            "amount": Decimal(quantity),
            "filled": filled,
            "remaining": Decimal(quantity) - filled,
            "average": (cost / filled) if filled else None,
            "cost": cost,
            "status": status,
            "split_size": freeze,
            "children": children,
        }

    def cancel_order(self, order_id, symbol=None):
        self._require()
        self._call("cancelorder", {"orderid": str(order_id)})
        shape = self._status(order_id)
        if shape["status"] == "open":
            shape["status"] = "canceled"
        return shape

    def fetch_order(self, order_id, symbol=None):
        if str(order_id).startswith("amk"):  # our client order id: OpenAlgo has none, so no order carries it
            raise NotFound("Order not found")
        return self._status(order_id)

    def fetch_open_orders(self, symbol=None):
        data = self._call("orderbook").get("data") or {}
        rows = data.get("orders", []) if isinstance(data, dict) else data
        wanted = (symbol or "").upper()
        orders = [self._order_shape(row) for row in rows]
        return [o for o in orders if o["status"] == "open" and (not wanted or o["symbol"] == wanted)]


class _Transient(Exception):
    """A timeout, refused connection or 5xx: retried for reads, never for writes."""


def from_keys(platform, keys, **options):
    """The adapter for ``keys`` (a stored credential or a KeySet): see trading.exchanges.ADAPTERS."""
    host = (getattr(keys, "extras", None) or {}).get("host_url", "")
    if not host:
        raise ValidationFailed("OpenAlgo needs your gateway's URL", details={"host_url": ["required"]})
    return OpenAlgoExchange(platform, api_key=keys.api_key, host_url=host, **options)


def public(platform, **options):
    """No public OpenAlgo exists: each user runs a gateway for their orders. Shared live market data (live bots'
    candles, tickers) comes from the operator's own gateway, settings.OPENALGO_DATA_HOST_URL with
    OPENALGO_DATA_API_KEY (trusted: set by the operator, so a private address is fine); without one, calls raise
    ProviderError saying a gateway is needed."""
    host = settings.OPENALGO_DATA_HOST_URL
    return OpenAlgoExchange(
        platform, api_key=settings.OPENALGO_DATA_API_KEY if host else "", host_url=host, trusted=True, **options
    )
