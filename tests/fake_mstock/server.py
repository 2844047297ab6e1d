"""A fake mStock Type A trading API on 127.0.0.1 for tests: the real SDK (``mstock-tradingapi-a``) talks to it over
real HTTP, pointed here by settings.MSTOCK_BASE_URL.

It speaks what the SDK's calls send (paths under /openapi/typea/, form-encoded bodies, ``X-Mirae-Version: 1``,
``Authorization: token <api_key>:<access_token>``) and answers ``{"status": "success", "data": ...}`` or
``{"status": "error", "message", "error_type"}``:
- POST session/verifytotp (api_key, totp): a REAL TOTP check (pyotp, the code of this 30 s step or the previous one)
  against the secret the fake was configured with -> a new access token; a wrong code -> 400 InputException
  "Invalid TOTP"; an unknown key -> 400 InputException "Invalid api_key".
- GET connect/login: 405 (the adapter's ping only needs an answer).
- GET user/fundsummary, portfolio/positions, portfolio/holdings, orders; POST orders/regular, order/details;
  DELETE orders/regular/<id>; GET instruments/quote/ltp?i=NSE:SYM; GET instruments/historical/<seg>/<token>/<interval>.
- An unknown or expired token -> 403 TokenException (what makes the SDK call its session-expiry hook).
  ``expire_sessions`` expires every token issued so far (the broker dropping the session).

Market orders fill at once at the symbol's price (status "Traded"); limit orders rest ("Open") unless marketable.
Insufficient funds -> 400 OrderException; ``reject_next(message)`` makes the next order exist with status "Rejected".
Faults for the next N matching requests (``fail_next``): "timeout" (sleep before answering), "timeout_after" (act,
then sleep), "500" (JSON GeneralException), "502" (an HTML proxy page). ``requests`` records (method, path) of each
request; ``bodies`` every request's form body (tests check that nothing secret is sent twice).
"""

import itertools
import json
import secrets
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pyotp

DEFAULT_KEY = "mstock-api-key-0001"
DEFAULT_SECRET = "mstock-api-secret-0001"
DEFAULT_CLIENT = "MA1234567"
DEFAULT_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PREFIX = "/openapi/typea/"
IST = ZoneInfo("Asia/Kolkata")
TOKENS = {"2885": "RELIANCE", "11536": "TCS", "1594": "INFY", "3045": "SBIN"}
DEFAULT_PRICES = {"RELIANCE": "2500", "TCS": "3500", "INFY": "1500", "SBIN": "800"}


class FakeMStock:
    def __init__(
        self, api_key=DEFAULT_KEY, totp_secret=DEFAULT_TOTP_SECRET, client_code=DEFAULT_CLIENT, funds="500000"
    ):
        self.api_key = api_key
        self.totp_secret = totp_secret
        self.client_code = client_code
        self.available = Decimal(funds)
        self.utilized = Decimal(0)
        self.prices = {k: Decimal(v) for k, v in DEFAULT_PRICES.items()}
        self.candles = {}  # tradingsymbol -> [[ts_ms, o, h, l, c, v], ...]
        self.positions = {}  # tradingsymbol -> {"quantity", "average_price", "product"}
        self.holdings = {}  # tradingsymbol -> quantity
        self.orders = {}  # order_id -> order row
        self.sessions = {}  # token -> {"expired": bool}
        self.logins = 0
        self.totp_refusals = 0
        self._ids = itertools.count(250000001)
        self._lock = threading.RLock()
        self._faults = []
        self._reject = []
        self.requests = []
        self.bodies = []
        self.headers = []
        self._server = None

    # --- control ---------------------------------------------------------------------------------------------
    def start(self):
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
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
        return f"http://{host}:{port}/"

    def fail_next(self, kind, times=1, delay=1.0, path=None, method=None):
        assert kind in {"timeout", "timeout_after", "500", "502"}, kind
        with self._lock:
            self._faults.append([kind, times, delay, path, method])

    def reject_next(self, message="EXCH:16283:Order price is out of the day's price band"):
        self._reject.append(message)

    def expire_sessions(self):
        """The broker drops every session issued so far (their tokens now answer 403 TokenException)."""
        with self._lock:
            for session in self.sessions.values():
                session["expired"] = True

    def count(self, method, path):
        return sum(1 for m, p in self.requests if m == method and p == PREFIX + path)

    def _take_fault(self, method, path):
        with self._lock:
            for fault in self._faults:
                kind, remaining, delay, fpath, fmethod = fault
                if remaining > 0 and (fpath is None or PREFIX + fpath == path) and (fmethod in (None, method)):
                    fault[1] -= 1
                    return kind, delay
        return None, 0

    def authorised(self, header):
        if not header.startswith("token ") or ":" not in header:
            return False
        key, token = header[len("token ") :].split(":", 1)
        session = self.sessions.get(token)
        return key == self.api_key and session is not None and not session["expired"]


class ApiError(Exception):
    def __init__(self, status, error_type, message):
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def _ok(data):
    return {"status": "success", "data": data}


def _n(value):
    return float(value)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeMStock
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PUT(self):
        self._dispatch("PUT")

    def _send(self, status, payload, content_type="application/json"):
        body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _dispatch(self, method):
        fake = self.fake
        parts = urlsplit(self.path)
        path = parts.path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        fake.requests.append((method, path))
        fake.bodies.append(raw)
        fake.headers.append(dict(self.headers))
        kind, delay = fake._take_fault(method, path)
        if kind == "timeout":
            time.sleep(delay)
        elif kind == "500":
            return self._send(
                500, {"status": "error", "message": "Something went wrong", "error_type": "GeneralException"}
            )
        elif kind == "502":
            return self._send(502, "<html><body>502 Bad Gateway</body></html>", "text/html")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            if not path.startswith(PREFIX):
                raise ApiError(404, "GeneralException", "Not found")
            route = path[len(PREFIX) :]
            if (method, route) == ("POST", "session/verifytotp"):
                status, payload = 200, verify_totp(fake, form)
            elif (method, route) == ("GET", "connect/login"):
                raise ApiError(405, "InputException", "Method not allowed")
            else:
                if not fake.authorised(self.headers.get("Authorization", "")):
                    raise ApiError(403, "TokenException", "Invalid session. Please login again")
                with fake._lock:
                    status, payload = 200, route_call(fake, method, route, form, query)
        except ApiError as exc:
            status, payload = exc.status, {"status": "error", "message": exc.message, "error_type": exc.error_type}
        if kind == "timeout_after":
            time.sleep(delay)
        self._send(status, payload)


def verify_totp(fake, form):
    if form.get("api_key") != fake.api_key:
        raise ApiError(400, "InputException", "Invalid api_key")
    if not pyotp.TOTP(fake.totp_secret).verify(form.get("totp", ""), valid_window=1):
        fake.totp_refusals += 1
        raise ApiError(400, "InputException", "Invalid TOTP")
    token = secrets.token_hex(16)
    with fake._lock:
        fake.sessions[token] = {"expired": False}
        fake.logins += 1
    return _ok({"user_id": fake.client_code, "access_token": token, "user_type": "individual"})


def route_call(fake, method, route, form, query):
    if (method, route) == ("GET", "user/fundsummary"):
        return _ok(
            [
                {
                    "AVAILABLE_BALANCE": str(fake.available),
                    "AMOUNT_UTILIZED": str(fake.utilized),
                    "SUM_OF_ALL": str(fake.available + fake.utilized),
                    "SEG": "A",
                    "LIMIT_TYPE": "CAPITAL",
                }
            ]
        )
    if (method, route) == ("GET", "portfolio/positions"):
        net = [
            {
                "tradingsymbol": sym,
                "exchange": "NSE",
                "product": p["product"],
                "quantity": int(p["quantity"]),
                "average_price": _n(p["average_price"]),
                "last_price": _n(fake.prices[sym]),
                "pnl": _n((fake.prices[sym] - p["average_price"]) * p["quantity"]),
            }
            for sym, p in fake.positions.items()
        ]
        return _ok({"net": net, "day": net})
    if (method, route) == ("GET", "portfolio/holdings"):
        return _ok([{"tradingsymbol": sym, "exchange": "NSE", "quantity": int(q)} for sym, q in fake.holdings.items()])
    if (method, route) == ("GET", "orders"):
        return _ok(list(fake.orders.values()))
    if (method, route) == ("POST", "orders/regular"):
        return _ok(place(fake, form))
    if (method, route) == ("POST", "order/details"):
        order = fake.orders.get(form.get("order_no", ""))
        if order is None:
            raise ApiError(400, "InputException", "Order not found")
        return _ok([order])
    if method == "DELETE" and route.startswith("orders/regular/"):
        return _ok(cancel(fake, route.rsplit("/", 1)[1]))
    if (method, route) == ("GET", "instruments/quote/ltp"):
        data = {}
        for instrument in query.get("i", []):
            sym = instrument.split(":", 1)[-1]
            if sym in fake.prices:
                data[instrument] = {"instrument_token": 0, "last_price": _n(fake.prices[sym])}
        return _ok(data)
    if method == "GET" and route.startswith("instruments/historical/"):
        token = route.split("/")[3]
        sym = TOKENS.get(token)
        if sym is None:
            raise ApiError(400, "InputException", "Invalid instrument token")
        rows = fake.candles.get(sym)
        if rows is None:
            now = datetime.now(IST).replace(second=0, microsecond=0)
            price = _n(fake.prices[sym])
            rows = [
                [int((now - timedelta(minutes=i)).timestamp() * 1000), price, price, price, price, 1000]
                for i in range(200, 0, -1)
            ]
        candles = [
            [datetime.fromtimestamp(ts / 1000, IST).strftime("%Y-%m-%dT%H:%M:%S+0530"), o, h, lo, c, v]
            for ts, o, h, lo, c, v in rows
        ]
        return _ok({"candles": candles})
    raise ApiError(404, "GeneralException", f"unknown endpoint {method} {route}")


def place(fake, form):
    sym = form.get("tradingsymbol", "")
    if sym not in fake.prices or form.get("exchange") != "NSE":
        raise ApiError(400, "InputException", "Invalid trading symbol")
    side, otype = form.get("transaction_type"), form.get("order_type")
    if side not in ("BUY", "SELL") or otype not in ("MARKET", "LIMIT", "SL", "SL-M"):
        raise ApiError(400, "InputException", "Invalid order parameters")
    if form.get("product") not in ("MIS", "CNC", "NRML"):
        raise ApiError(400, "InputException", "Invalid product")
    try:
        qty = int(form.get("quantity", ""))
    except ValueError:
        raise ApiError(400, "InputException", "Invalid quantity") from None
    if qty <= 0:
        raise ApiError(400, "InputException", "Invalid quantity")
    price = Decimal(form.get("price") or "0")
    last = fake.prices[sym]
    marketable = otype == "MARKET" or (otype == "LIMIT" and (price >= last if side == "BUY" else price <= last))
    fill_price = last if otype == "MARKET" else price
    order_id = str(next(fake._ids))
    row = {
        "placed_by": fake.client_code,
        "order_id": order_id,
        "exchange_order_id": f"1100000{order_id}",
        "status": "Open",
        "status_message": "CONFIRMED",
        "order_timestamp": datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S"),
        "exchange": "NSE",
        "tradingsymbol": sym,
        "order_type": otype,
        "transaction_type": side,
        "validity": form.get("validity", "DAY"),
        "product": form.get("product"),
        "quantity": qty,
        "price": _n(price),
        "trigger_price": _n(Decimal(form.get("trigger_price") or "0")),
        "average_price": 0,
        "filled_quantity": 0,
        "pending_quantity": qty,
        "cancelled_quantity": 0,
        "tag": form.get("tag", ""),
    }
    if fake._reject:
        row.update({"status": "Rejected", "status_message": fake._reject.pop(0), "pending_quantity": 0})
        fake.orders[order_id] = row
        return {"order_id": order_id}
    position = fake.positions.get(sym)
    if side == "BUY":
        need = fill_price * qty if marketable else price * qty
        if need > fake.available:
            raise ApiError(400, "OrderException", "RMS:Rule: insufficient funds for this order")
    else:
        held = (position["quantity"] if position else 0) + fake.holdings.get(sym, 0)
        if qty > held and form.get("product") == "CNC":
            raise ApiError(400, "OrderException", "RMS:Rule: insufficient holdings to sell")
    if marketable:
        value = fill_price * qty
        if side == "BUY":
            fake.available -= value
            if position is None:
                fake.positions[sym] = {"quantity": qty, "average_price": fill_price, "product": form["product"]}
            else:
                total = position["quantity"] + qty
                position["average_price"] = (position["average_price"] * position["quantity"] + value) / total
                position["quantity"] = total
        else:
            fake.available += value
            if position is not None:
                position["quantity"] -= qty
                if position["quantity"] == 0:
                    del fake.positions[sym]
        row.update(
            {"status": "Traded", "status_message": "TRADE CONFIRMED", "average_price": _n(fill_price)}
            | {"filled_quantity": qty, "pending_quantity": 0}
        )
    elif side == "BUY":
        fake.available -= price * qty
        fake.utilized += price * qty
    fake.orders[order_id] = row
    return {"order_id": order_id}


def cancel(fake, order_id):
    row = fake.orders.get(order_id)
    if row is None:
        raise ApiError(400, "InputException", "Order not found")
    if row["status"] != "Open":
        raise ApiError(400, "OrderException", f"Order cannot be cancelled: it is {row['status']}")
    if row["transaction_type"] == "BUY":
        locked = Decimal(str(row["price"])) * row["quantity"]
        fake.available += locked
        fake.utilized -= locked
    row.update({"status": "Cancelled", "cancelled_quantity": row["pending_quantity"], "pending_quantity": 0})
    return {"order_id": order_id}
