"""A fake OpenAlgo gateway on 127.0.0.1 for tests: the OpenAlgo adapter talks to it over real HTTP.

It speaks the part of OpenAlgo's REST API (https://docs.openalgo.in/api-documentation/v1) the adapter calls, every one
``POST /api/v1/<endpoint>`` with a JSON body whose ``apikey`` is checked (403 ``Invalid openalgo apikey`` otherwise):
ping, funds, holdings, positionbook, orderbook, orderstatus, placeorder, splitorder, cancelorder, margin, quotes,
history, symbol.

- Prices: ``prices`` (set_price); market orders fill at once at the price, limit orders rest unless marketable.
- Freeze quantity per symbol (``freeze``, served as ``freeze_qty`` by ``symbol``): placeorder above it is refused
  (400), splitorder places children of at most ``splitsize`` each.
- Margin: ``margin`` prices a buy at quantity x price (CNC/NRML) or a fifth of it (MIS), a sell at 0 (CNC) or a fifth;
  placeorder itself rejects (order status "rejected") a buy the cash does not cover, as a broker's RMS would.
- ``reject_symbols``: orders on these symbols are accepted with an order id, then show status "rejected".
- Faults for the next N requests to an endpoint (``fail_next``): "timeout" (sleep ``delay`` before answering), "500",
  "503". ``requests`` records every (endpoint, body without the key) received.
"""

import itertools
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_KEY = "fake-openalgo-key-0001"
BROKER = "zerodha"
PRICES = {"RELIANCE": "2900", "TCS": "4100", "INFY": "1800", "HDFCBANK": "1700", "SBIN": "800"}
FREEZE = {"RELIANCE": 500, "SBIN": 1000}


def _n(value):
    value = Decimal(str(value))
    return float(value) if value != value.to_integral_value() else int(value)


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class FakeOpenAlgo:
    def __init__(self, api_key=DEFAULT_KEY, cash="1000000"):
        self.api_key = api_key
        self.cash = Decimal(cash)
        self.used = Decimal(0)
        self.prices = {k: Decimal(v) for k, v in PRICES.items()}
        self.freeze = dict(FREEZE)
        self.holdings = {}  # symbol -> quantity
        self.positions = {}  # (symbol, product) -> [quantity, average]
        self.orders = {}  # orderid -> order dict
        self.reject_symbols = set()
        self._ids = itertools.count(250408000000001)
        self._lock = threading.RLock()
        self._faults = []  # [kind, remaining, delay, endpoint]
        self.requests = []
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

    def fail_next(self, kind, times=1, delay=1.0, endpoint=None):
        assert kind in {"timeout", "500", "503"}, kind
        with self._lock:
            self._faults.append([kind, times, delay, endpoint])

    def set_price(self, symbol, price):
        self.prices[symbol] = Decimal(str(price))

    def count(self, endpoint):
        return sum(1 for name, _ in self.requests if name == endpoint)

    def _take_fault(self, endpoint):
        with self._lock:
            for fault in self._faults:
                if fault[1] > 0 and (fault[3] is None or fault[3] == endpoint):
                    fault[1] -= 1
                    return fault[0], fault[2]
        return None, 0

    # --- trading ---------------------------------------------------------------------------------------------
    def margin_of(self, p):
        qty, price = Decimal(str(p["quantity"])), Decimal(str(p.get("price") or 0))
        price = price if p.get("pricetype") in ("LIMIT", "SL") and price else self.prices[p["symbol"]]
        value = qty * price
        if p["product"] == "MIS":
            return value / 5
        return value if p["action"] == "BUY" else Decimal(0)

    def place(self, body):
        symbol, action = body.get("symbol", ""), body.get("action", "")
        if symbol not in self.prices or body.get("exchange") != "NSE":
            raise ApiError(400, f"Symbol '{symbol}' not found for exchange '{body.get('exchange')}'")
        if action not in ("BUY", "SELL") or body.get("product") not in ("MIS", "CNC", "NRML"):
            raise ApiError(400, "Invalid action or product")
        try:
            qty = int(body.get("quantity"))
        except (TypeError, ValueError):
            raise ApiError(400, "Invalid quantity") from None
        if qty <= 0:
            raise ApiError(400, "Quantity must be positive")
        if symbol in self.freeze and qty > self.freeze[symbol]:
            raise ApiError(400, f"Quantity {qty} exceeds the freeze quantity {self.freeze[symbol]} of {symbol}")
        order_id = str(next(self._ids))
        price = Decimal(str(body.get("price") or 0))
        order = {
            "orderid": order_id,
            "symbol": symbol,
            "exchange": "NSE",
            "action": action,
            "product": body["product"],
            "pricetype": body.get("pricetype", "MARKET"),
            "quantity": qty,
            "price": _n(price),
            "trigger_price": _n(body.get("trigger_price") or 0),
            "average_price": 0,
            "order_status": "open",
            "timestamp": time.strftime("%d-%b-%Y %H:%M:%S"),
        }
        self.orders[order_id] = order
        last = self.prices[symbol]
        marketable = order["pricetype"] == "MARKET" or (
            order["pricetype"] == "LIMIT" and (price >= last if action == "BUY" else price <= last)
        )
        if symbol in self.reject_symbols:
            order["order_status"] = "rejected"
        elif action == "BUY" and self.margin_of(body | {"quantity": qty}) > self.cash:
            order["order_status"] = "rejected"  # the broker's RMS: insufficient funds
        elif marketable:
            self._fill(order, last)
        return order_id

    def _fill(self, order, price):
        qty, symbol = Decimal(order["quantity"]), order["symbol"]
        cost = qty * price
        key = (symbol, order["product"])
        held = self.positions.setdefault(key, [Decimal(0), Decimal(0)])
        if order["action"] == "BUY":
            self.cash -= cost if order["product"] != "MIS" else cost / 5
            held[1] = (held[0] * held[1] + cost) / (held[0] + qty) if held[0] + qty else Decimal(0)
            held[0] += qty
        else:
            self.cash += cost
            held[0] -= qty
        order["order_status"] = "complete"
        order["average_price"] = _n(price)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAlgo
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        self._send(405, {"status": "error", "message": "Method Not Allowed"})

    def do_POST(self):
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, {"status": "error", "message": "Invalid JSON"})
        path = self.path.split("?")[0]
        endpoint = path.removeprefix("/api/v1/").strip("/")
        fake.requests.append((endpoint, {k: v for k, v in body.items() if k != "apikey"}))
        kind, delay = fake._take_fault(endpoint)
        if kind == "timeout":
            time.sleep(delay)
        elif kind in ("500", "503"):
            return self._send(int(kind), {"status": "error", "message": "Internal server error"})
        route = ROUTES.get(endpoint)
        if route is None:
            return self._send(404, {"status": "error", "message": "Not Found"})
        if body.get("apikey") != fake.api_key:
            return self._send(403, {"status": "error", "message": "Invalid openalgo apikey"})
        try:
            with fake._lock:
                payload = route(fake, body)
        except ApiError as exc:
            return self._send(exc.status, {"status": "error", "message": exc.message})
        self._send(200, {"status": "success", **payload})


def ping(fake, body):
    return {"data": {"broker": BROKER, "message": "pong"}}


def funds(fake, body):
    return {
        "data": {
            "availablecash": f"{fake.cash:.2f}",
            "collateral": "0.00",
            "m2mrealized": "0.00",
            "m2munrealized": "0.00",
            "utiliseddebits": f"{fake.used:.2f}",
        }
    }


def holdings(fake, body):
    rows = [
        {"symbol": s, "exchange": "NSE", "product": "CNC", "quantity": q, "pnl": 0, "pnlpercent": 0}
        for s, q in fake.holdings.items()
    ]
    return {"data": {"holdings": rows, "statistics": {}}}


def positionbook(fake, body):
    return {
        "data": [
            {"symbol": s, "exchange": "NSE", "product": p, "quantity": _n(q), "average_price": f"{a:.2f}"}
            for (s, p), (q, a) in fake.positions.items()
            if q
        ]
    }


def orderbook(fake, body):
    return {"data": {"orders": list(fake.orders.values()), "statistics": {}}}


def orderstatus(fake, body):
    order = fake.orders.get(str(body.get("orderid")))
    if order is None:
        raise ApiError(404, "Order not found")
    return {"data": dict(order)}


def placeorder(fake, body):
    return {"orderid": fake.place(body)}


def splitorder(fake, body):
    try:
        total, size = int(body.get("quantity")), int(body.get("splitsize"))
    except (TypeError, ValueError):
        raise ApiError(400, "Invalid quantity or splitsize") from None
    if size <= 0 or total <= 0:
        raise ApiError(400, "Quantity and split size must be positive")
    results, remaining, n = [], total, 0
    while remaining > 0:
        n += 1
        qty = min(size, remaining)
        remaining -= qty
        try:
            results.append(
                {"order_num": n, "orderid": fake.place({**body, "quantity": qty}), "quantity": qty, "status": "success"}
            )
        except ApiError as exc:
            results.append({"order_num": n, "quantity": qty, "status": "error", "message": exc.message})
    return {"results": results, "split_size": size, "total_quantity": total}


def cancelorder(fake, body):
    order = fake.orders.get(str(body.get("orderid")))
    if order is None or order["order_status"] != "open":
        raise ApiError(400, "Order not found or not open")
    order["order_status"] = "cancelled"
    return {"orderid": order["orderid"]}


def margin(fake, body):
    positions = body.get("positions") or []
    if not positions:
        raise ApiError(400, "Positions array cannot be empty")
    for p in positions:
        if p.get("symbol") not in fake.prices:
            raise ApiError(400, f"Symbol '{p.get('symbol')}' not found")
    total = sum((fake.margin_of(p) for p in positions), Decimal(0))
    return {"data": {"total_margin_required": _n(total), "span_margin": 0, "exposure_margin": _n(total)}}


def quotes(fake, body):
    symbol = body.get("symbol")
    if symbol not in fake.prices:
        raise ApiError(400, f"Symbol '{symbol}' not found")
    ltp = fake.prices[symbol]
    return {
        "data": {
            "ask": _n(ltp + Decimal("0.05")),
            "bid": _n(ltp - Decimal("0.05")),
            "ltp": _n(ltp),
            "open": _n(ltp),
            "high": _n(ltp),
            "low": _n(ltp),
            "prev_close": _n(ltp),
            "volume": 1000,
        }
    }


def history(fake, body):
    symbol = body.get("symbol")
    if symbol not in fake.prices:
        raise ApiError(400, f"Symbol '{symbol}' not found")
    step = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "D": 86400}.get(body.get("interval"))
    if step is None:
        raise ApiError(400, "Invalid interval")
    now = int(time.time()) // step * step
    ltp = fake.prices[symbol]
    return {
        "data": [
            {
                "timestamp": now - i * step,
                "open": _n(ltp),
                "high": _n(ltp),
                "low": _n(ltp),
                "close": _n(ltp),
                "volume": 10,
            }
            for i in range(50, 0, -1)
        ]
    }


def symbol(fake, body):
    name = body.get("symbol")
    if name not in fake.prices:
        raise ApiError(404, f"Symbol '{name}' not found")
    data = {"symbol": name, "exchange": "NSE", "brsymbol": f"{name}-EQ", "lotsize": 1, "tick_size": 0.05}
    if name in fake.freeze:
        data["freeze_qty"] = fake.freeze[name]
    return {"data": data}


ROUTES = {
    "ping": ping,
    "funds": funds,
    "holdings": holdings,
    "positionbook": positionbook,
    "orderbook": orderbook,
    "orderstatus": orderstatus,
    "placeorder": placeorder,
    "splitorder": splitorder,
    "cancelorder": cancelorder,
    "margin": margin,
    "quotes": quotes,
    "history": history,
    "symbol": symbol,
}
