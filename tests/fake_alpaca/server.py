"""A fake Alpaca on 127.0.0.1 for tests: the real ``alpaca-py`` SDK talks to it over real HTTP
(settings.ALPACA_BASE_URL = fake.url replaces both of Alpaca's hosts).

It speaks the parts of https://docs.alpaca.markets/reference the adapter (trading.exchanges.alpaca_adapter) uses.
Trading API (headers APCA-API-KEY-ID / APCA-API-SECRET-KEY): GET /v2/account, GET /v2/clock, POST /v2/orders,
GET /v2/orders (status=open, symbols), GET /v2/orders/{id}, GET /v2/orders:by_client_order_id?client_order_id=,
DELETE /v2/orders/{id} (204), GET /v2/positions, GET /v2/assets/{symbol}. Market data: GET /v2/stocks/quotes/latest,
GET /v2/stocks/bars (keys required), GET /v1beta3/crypto/us/latest/quotes, GET /v1beta3/crypto/us/bars (keyless).

Prices: crypto from the simulated feed (trading.exchanges.simfeed), stocks from STOCK_PRICES, unless a test pins one
with ``set_price``. Market orders fill at once at the touch while the market is open (crypto: always) and wait as
"accepted" while it is closed (``market_open = False``); limit orders fill when marketable, else rest as "new".
A buy beyond the cash answers 403 "insufficient buying power"; a fractional stock quantity 422.

Faults for the next N matching requests (``fail_next``): "timeout" (sleep ``delay`` before answering),
"timeout_after" (act, then sleep: the client times out although Alpaca acted), "500", "503", "429",
"bad_key" (401), "reject" (422 with Alpaca's message). ``requests`` records (method, path, environment header-less)
of every request; ``orders_posted`` counts POST /v2/orders that created an order.
"""

import itertools
import json
import math
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from trading.exchanges import simfeed

DEFAULT_KEY = "PKFAKEALPACA0001"
DEFAULT_SECRET = "fake-alpaca-secret-0001-abcdefghijklmnop"
STOCK_PRICES = {"AAPL": "190.00", "MSFT": "420.00", "TSLA": "250.00", "SPY": "560.00"}
CRYPTO = ("BTC", "ETH")
TIMEFRAME_SECONDS = {"1Min": 60, "5Min": 300, "15Min": 900, "30Min": 1800, "1Hour": 3600, "4Hour": 14400, "1Day": 86400}


def _s(value):
    return format(Decimal(value).normalize(), "f") if value is not None else None


def _iso(ts=None):
    moment = datetime.fromtimestamp(ts, UTC) if ts is not None else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


class FakeAlpaca:
    def __init__(self, api_key=DEFAULT_KEY, api_secret=DEFAULT_SECRET, cash="100000"):
        self.accounts = {}
        self.add_account(api_key, api_secret, cash)
        self.prices = {}
        self.market_open = True
        self.orders = {}  # id -> order dict (with "_account")
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._faults = []
        self.requests = []
        self.orders_posted = 0
        self._server = None

    # --- control ---------------------------------------------------------------------------------------------
    def start(self):
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_account(self, api_key, api_secret, cash="100000", status="ACTIVE", trading_blocked=False):
        self.accounts[api_key] = {
            "secret": api_secret,
            "cash": Decimal(str(cash)),
            "positions": {},  # symbol -> [qty, avg entry price]
            "status": status,
            "trading_blocked": trading_blocked,
            "number": f"PA{abs(hash(api_key)) % 10**10:010d}",
        }

    def fail_next(self, kind, times=1, delay=1.0, path=None, method=None):
        assert kind in {"timeout", "timeout_after", "500", "503", "429", "bad_key", "reject"}, kind
        with self._lock:
            self._faults.append([kind, times, delay, path, method])

    def set_price(self, symbol, price):
        """``symbol`` as Alpaca spells it: "AAPL" or "BTC/USD"."""
        self.prices[symbol] = Decimal(str(price))

    def count(self, method, path):
        return sum(1 for m, p in self.requests if m == method and p == path)

    def _take_fault(self, method, path):
        with self._lock:
            for fault in self._faults:
                kind, remaining, delay, fpath, fmethod = fault
                if remaining > 0 and (fpath is None or fpath == path) and (fmethod is None or fmethod == method):
                    fault[1] -= 1
                    return kind, delay
        return None, 0

    # --- prices ----------------------------------------------------------------------------------------------
    @staticmethod
    def crypto(symbol):
        return symbol.split("/")[0] in CRYPTO

    def mid(self, symbol, at=None):
        if symbol in self.prices:
            return self.prices[symbol]
        if self.crypto(symbol):
            if at is None:
                return simfeed.ticker(symbol)["last"]
            return Decimal(str(simfeed.ohlcv(symbol, "1m", 1, now=at + 60)[-1][4]))
        base = Decimal(STOCK_PRICES[symbol])
        t = at if at is not None else time.time()
        return (base * Decimal(str(1 + 0.002 * math.sin(t / 600)))).quantize(Decimal("0.01"))

    def book(self, symbol):
        mid = self.mid(symbol)
        step = Decimal("0.01")
        return (mid - step).quantize(step), (mid + step).quantize(step)


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAlpaca
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _send(self, status, payload):
        body = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _dispatch(self, method):
        fake = self.fake
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        fake.requests.append((method, path))
        kind, delay = fake._take_fault(method, path)
        if kind == "timeout":
            time.sleep(delay)
        elif kind in ("500", "503"):
            return self._send(int(kind), {"code": 50010000, "message": "internal server error occurred"})
        elif kind == "429":
            return self._send(429, {"code": 42910000, "message": "rate limit exceeded"})
        elif kind == "bad_key":
            return self._send(401, {"code": 40110000, "message": "request is not authorized"})
        elif kind == "reject":
            return self._send(422, {"code": 42210000, "message": "order rejected: asset is not tradable right now"})
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            handler, keyless = _route(method, path)
            account = None if keyless else self._authenticate()
            with fake._lock:
                status, payload = handler(fake, query, body, account, path)
        except ApiError as exc:
            status, payload = exc.status, {"code": exc.code, "message": exc.message}
        if kind == "timeout_after":
            time.sleep(delay)
        self._send(status, payload)

    def _authenticate(self):
        account = self.fake.accounts.get(self.headers.get("APCA-API-KEY-ID", ""))
        if account is None or account["secret"] != self.headers.get("APCA-API-SECRET-KEY", ""):
            raise ApiError(401, 40110000, "request is not authorized")
        return account


# --- endpoints -------------------------------------------------------------------------------------------------


def account_info(fake, q, body, account, path):
    cash = account["cash"]
    market_value = sum((qty * fake.mid(sym) for sym, (qty, _) in account["positions"].items()), Decimal(0))
    held = sum(
        (
            Decimal(o["qty"]) * Decimal(o["limit_price"] or "0")
            for o in _open_orders(fake, account)
            if o["side"] == "buy"
        ),
        Decimal(0),
    )
    power = cash - held
    return 200, {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, account["number"])),
        "account_number": account["number"],
        "status": account["status"],
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "cash": _s(cash),
        "buying_power": _s(power * 2),
        "regt_buying_power": _s(power * 2),
        "daytrading_buying_power": "0",
        "non_marginable_buying_power": _s(power),
        "portfolio_value": _s(cash + market_value),
        "equity": _s(cash + market_value),
        "last_equity": _s(cash + market_value),
        "long_market_value": _s(market_value),
        "short_market_value": "0",
        "initial_margin": "0",
        "maintenance_margin": "0",
        "multiplier": "2",
        "pattern_day_trader": False,
        "trading_blocked": account["trading_blocked"],
        "transfers_blocked": False,
        "account_blocked": False,
        "shorting_enabled": False,
        "created_at": _iso(),
    }


def _session_times(now):
    """Today's (or the next weekday's) 09:30-16:00 New York session as UTC datetimes (EST, -5 h: close enough)."""
    day = now.date()
    while True:
        opens = datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC)
        closes = opens + timedelta(hours=6, minutes=30)
        if day.weekday() < 5 and closes > now:
            return opens, closes
        day += timedelta(days=1)


def clock(fake, q, body, account, path):
    now = datetime.now(UTC)
    opens, closes = _session_times(now)
    if fake.market_open:
        next_open = _session_times(closes + timedelta(minutes=1))[0]
        next_close = now + timedelta(hours=1) if not (opens <= now < closes) else closes
    else:
        next_open = opens if opens > now else _session_times(closes + timedelta(minutes=1))[0]
        next_close = next_open + timedelta(hours=6, minutes=30)
    return 200, {
        "timestamp": now.isoformat(),
        "is_open": fake.market_open,
        "next_open": next_open.isoformat(),
        "next_close": next_close.isoformat(),
    }


def _symbol(raw):
    raw = (raw or "").upper()
    if "/" not in raw and raw.endswith("USD") and raw[:-3] in CRYPTO:
        return f"{raw[:-3]}/USD"
    if raw not in STOCK_PRICES and raw.split("/")[0] not in CRYPTO:
        raise ApiError(404, 40410000, "asset not found")
    return raw


def asset(fake, q, body, account, path):
    symbol = _symbol(path.split("/v2/assets/", 1)[1])
    crypto = fake.crypto(symbol)
    return 200, {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
        "class": "crypto" if crypto else "us_equity",
        "exchange": "CRYPTO" if crypto else "NASDAQ",
        "symbol": symbol,
        "name": symbol,
        "status": "active",
        "tradable": True,
        "marginable": not crypto,
        "shortable": False,
        "easy_to_borrow": False,
        "fractionable": True,
        "min_order_size": "0.0001" if crypto else None,
        "min_trade_increment": "0.0001" if crypto else None,
        "price_increment": "0.01" if crypto else None,
        "attributes": [],
    }


def _order_view(order):
    return {k: v for k, v in order.items() if not k.startswith("_")}


def _open_orders(fake, account):
    return [o for o in fake.orders.values() if o["_account"] is account and o["status"] in ("new", "accepted")]


def _fill(fake, order, account, price):
    qty = Decimal(order["qty"])
    positions = account["positions"]
    held, entry = positions.get(order["symbol"], [Decimal(0), Decimal(0)])
    if order["side"] == "buy":
        account["cash"] -= qty * price
        positions[order["symbol"]] = [held + qty, (held * entry + qty * price) / (held + qty)]
    else:
        account["cash"] += qty * price
        if held - qty > 0:
            positions[order["symbol"]] = [held - qty, entry]
        else:
            positions.pop(order["symbol"], None)
    now = _iso()
    order.update(
        {"status": "filled", "filled_qty": _s(qty), "filled_avg_price": _s(price), "filled_at": now, "updated_at": now}
    )


def new_order(fake, q, body, account, path):
    symbol = _symbol(body.get("symbol"))
    crypto = fake.crypto(symbol)
    side, kind, tif = body.get("side"), body.get("type"), body.get("time_in_force")
    if side not in ("buy", "sell") or kind not in ("market", "limit", "stop", "stop_limit"):
        raise ApiError(422, 40010001, "invalid order type or side")
    if tif not in ("day", "gtc", "ioc", "fok", "opg", "cls") or (crypto and tif not in ("gtc", "ioc")):
        raise ApiError(422, 40010001, "invalid time_in_force")
    qty = Decimal(str(body.get("qty") or "0"))
    if qty <= 0:
        raise ApiError(422, 40010001, "qty must be > 0")
    if not crypto and qty != qty.to_integral_value():
        raise ApiError(422, 40010001, "fractional orders must be market orders with time_in_force day")
    client_id = body.get("client_order_id") or str(uuid.uuid4())
    if any(o["client_order_id"] == client_id and o["_account"] is account for o in fake.orders.values()):
        raise ApiError(422, 40010001, "client_order_id must be unique")
    if account["trading_blocked"]:
        raise ApiError(403, 40310000, "trading is blocked for this account")
    bid, ask = fake.book(symbol)
    limit = Decimal(str(body["limit_price"])) if body.get("limit_price") is not None else None
    touch = ask if side == "buy" else bid
    if side == "buy":
        need = qty * (limit or touch)
        power = Decimal(account_info(fake, q, body, account, path)[1]["non_marginable_buying_power"])
        if need > power:
            raise ApiError(403, 40310000, "insufficient buying power")
    else:
        held = account["positions"].get(symbol, [Decimal(0)])[0]
        if qty > held:
            raise ApiError(403, 40310000, f"insufficient qty available for order (requested: {qty}, available: {held})")
    now = _iso()
    order_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"order-{next(fake._ids)}"))
    order = {
        "id": order_id,
        "client_order_id": client_id,
        "created_at": now,
        "updated_at": now,
        "submitted_at": now,
        "filled_at": None,
        "expired_at": None,
        "canceled_at": None,
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
        "symbol": symbol,
        "asset_class": "crypto" if crypto else "us_equity",
        "notional": None,
        "qty": _s(qty),
        "filled_qty": "0",
        "filled_avg_price": None,
        "order_class": "",
        "order_type": kind,
        "type": kind,
        "side": side,
        "position_intent": "buy_to_open" if side == "buy" else "sell_to_close",
        "time_in_force": tif,
        "limit_price": _s(limit) if limit is not None else None,
        "stop_price": _s(body["stop_price"]) if body.get("stop_price") is not None else None,
        "status": "accepted" if not (crypto or fake.market_open) else "new",
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "_account": account,
    }
    fake.orders[order_id] = order
    fake.orders_posted += 1
    if crypto or fake.market_open:
        if kind == "market":
            _fill(fake, order, account, touch)
        elif kind == "limit" and ((side == "buy" and limit >= ask) or (side == "sell" and limit <= bid)):
            _fill(fake, order, account, touch)
    return 200, _order_view(order)


def _find(fake, account, order_id=None, client_id=None):
    for order in fake.orders.values():
        if order["_account"] is not account:
            continue
        if (order_id and order["id"] == order_id) or (client_id and order["client_order_id"] == client_id):
            return order
    raise ApiError(404, 40410000, "order not found")


def get_order(fake, q, body, account, path):
    return 200, _order_view(_find(fake, account, order_id=path.rsplit("/", 1)[1]))


def get_order_by_client_id(fake, q, body, account, path):
    return 200, _order_view(_find(fake, account, client_id=q.get("client_order_id")))


def cancel_order(fake, q, body, account, path):
    order = _find(fake, account, order_id=path.rsplit("/", 1)[1])
    if order["status"] not in ("new", "accepted"):
        raise ApiError(422, 42210000, f'order is already in "{order["status"]}" state')
    now = _iso()
    order.update({"status": "canceled", "canceled_at": now, "updated_at": now})
    return 204, None


def list_orders(fake, q, body, account, path):
    if q.get("status", "open") != "open":
        raise ApiError(422, 40010001, "the fake lists open orders only")
    wanted = {s for s in (q.get("symbols") or "").split(",") if s}
    return 200, [_order_view(o) for o in _open_orders(fake, account) if not wanted or o["symbol"] in wanted]


def positions(fake, q, body, account, path):
    rows = []
    for symbol, (qty, entry) in sorted(account["positions"].items()):
        price = fake.mid(symbol)
        crypto = fake.crypto(symbol)
        rows.append(
            {
                "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
                "symbol": symbol.replace("/", "") if crypto else symbol,
                "exchange": "CRYPTO" if crypto else "NASDAQ",
                "asset_class": "crypto" if crypto else "us_equity",
                "avg_entry_price": _s(entry),
                "qty": _s(qty),
                "qty_available": _s(
                    qty
                    - sum(
                        Decimal(o["qty"])
                        for o in _open_orders(fake, account)
                        if o["side"] == "sell" and o["symbol"] == symbol
                    )
                ),
                "side": "long",
                "market_value": _s(qty * price),
                "cost_basis": _s(qty * entry),
                "unrealized_pl": _s(qty * (price - entry)),
                "current_price": _s(price),
            }
        )
    return 200, rows


def _quotes(fake, q):
    out = {}
    for symbol in (q.get("symbols") or "").split(","):
        symbol = _symbol(symbol)
        bid, ask = fake.book(symbol)
        out[symbol] = {"ap": float(ask), "as": 1, "bp": float(bid), "bs": 1, "t": _iso()}
    return out


def latest_quotes(fake, q, body, account, path):
    return 200, {"quotes": _quotes(fake, q)}


def bars(fake, q, body, account, path):
    span = TIMEFRAME_SECONDS.get(q.get("timeframe", "1Min"))
    if span is None:
        raise ApiError(422, 40010001, "invalid timeframe")
    limit = int(q.get("limit") or 1000)
    start = datetime.fromisoformat(q["start"].replace("Z", "+00:00")).timestamp() if q.get("start") else None
    now = int(time.time()) // span * span
    out = {}
    for symbol in (q.get("symbols") or "").split(","):
        symbol = _symbol(symbol)
        if q.get("sort") == "desc" or start is None:
            stamps = [now - i * span for i in range(limit)]
        else:
            first = int(start) // span * span
            stamps = [t for t in (first + i * span for i in range(limit)) if t <= now]
        if q.get("sort") != "desc":
            stamps.sort()
        rows = []
        for t in stamps:
            close, open_ = fake.mid(symbol, at=t), fake.mid(symbol, at=t - span)
            rows.append(
                {
                    "t": _iso(t),
                    "o": float(open_),
                    "h": float(max(open_, close)),
                    "l": float(min(open_, close)),
                    "c": float(close),
                    "v": 100.0,
                    "n": 10,
                    "vw": float(close),
                }
            )
        out[symbol] = rows
    return 200, {"bars": out, "next_page_token": None}


def _route(method, path):
    exact = {
        ("GET", "/v2/account"): (account_info, False),
        ("GET", "/v2/clock"): (clock, False),
        ("POST", "/v2/orders"): (new_order, False),
        ("GET", "/v2/orders"): (list_orders, False),
        ("GET", "/v2/orders:by_client_order_id"): (get_order_by_client_id, False),
        ("GET", "/v2/positions"): (positions, False),
        ("GET", "/v2/stocks/quotes/latest"): (latest_quotes, False),
        ("GET", "/v2/stocks/bars"): (bars, False),
        ("GET", "/v1beta3/crypto/us/latest/quotes"): (latest_quotes, True),
        ("GET", "/v1beta3/crypto/us/bars"): (bars, True),
    }
    if (method, path) in exact:
        return exact[(method, path)]
    if method == "GET" and path.startswith("/v2/assets/"):
        return asset, False
    if path.startswith("/v2/orders/") and method in ("GET", "DELETE"):
        return (get_order if method == "GET" else cancel_order), False
    raise ApiError(404, 40410000, f"endpoint not found: {method} {path}")
