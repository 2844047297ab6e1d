"""A fake Binance spot REST API on 127.0.0.1 for tests: real ccxt talks to it over real HTTP.

It speaks the part of https://developers.binance.com/docs/binance-spot-api-docs/rest-api that ccxt's binance class calls
for spot trading: GET /api/v3/ping, /api/v3/time, /api/v3/exchangeInfo, /api/v3/ticker/24hr, /api/v3/ticker/bookTicker,
/api/v3/klines; signed (HMAC-SHA256 of the query/body with the api secret, X-MBX-APIKEY header): GET /api/v3/account,
POST|GET|DELETE /api/v3/order, GET /api/v3/openOrders, GET /sapi/v1/account/apiRestrictions (what the key may do:
``add_account(..., withdrawals=True)`` or ``set_restrictions`` for a key that can withdraw).

Prices come from the simulated feed (trading.exchanges.simfeed) unless a test pins them with ``set_price``. Market
orders fill at once at the touch; limit orders rest (funds locked) unless marketable.

Faults for the next N matching requests (``fail_next``): "timeout" (sleep ``delay`` seconds before answering),
"timeout_after" (process the request, then sleep: the client times out although the exchange acted), "500", "503",
"429", "bad_key" (-2015). ``requests`` records (method, path) of every request received.

Usage: ``with FakeBinance() as fake: ccxt.binance(...)`` pointed at ``fake.url``; the ``fake_exchange`` fixture in
tests/fake_exchange/fixtures.py does that per test.
"""

import hashlib
import hmac
import itertools
import json
import threading
import time
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from trading.exchanges import simfeed

DEFAULT_KEY = "fake-api-key-0001"
DEFAULT_SECRET = "fake-api-secret-0001-abcdefghijklmnop"

# symbol id -> (base, quote, tickSize, stepSize, minQty, maxQty, minNotional)
DEFAULT_MARKETS = {
    "BTCUSDT": ("BTC", "USDT", "0.01", "0.00001", "0.00001", "9000", "5"),
    "ETHUSDT": ("ETH", "USDT", "0.01", "0.0001", "0.0001", "9000", "5"),
    "SOLUSDT": ("SOL", "USDT", "0.01", "0.001", "0.001", "90000", "5"),
    "XRPUSDT": ("XRP", "USDT", "0.0001", "0.1", "0.1", "9000000", "5"),
    "BNBUSDT": ("BNB", "USDT", "0.01", "0.001", "0.001", "90000", "5"),
}
TIMEFRAME_MS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


def _s(value):
    return format(Decimal(value).normalize(), "f") if value is not None else "0"


class FakeBinance:
    def __init__(self, api_key=DEFAULT_KEY, api_secret=DEFAULT_SECRET, balances=None):
        self.accounts = {
            api_key: {
                "restrictions": _restrictions(),
                "secret": api_secret,
                "balances": {
                    k: [Decimal(v), Decimal(0)] for k, v in (balances or {"USDT": "10000", "BTC": "0.5"}).items()
                },
            }
        }
        self.markets = dict(DEFAULT_MARKETS)
        self.prices = {}
        self.candles = {}  # symbol id -> [[ts, o, h, l, c, v], ...] served by /api/v3/klines instead of the feed's
        self.orders = {}  # orderId -> order dict (with "_key")
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self._faults = []  # [kind, remaining, delay, path_filter, method_filter]
        self.requests = []
        self._server = None
        self._thread = None

    # --- control ---------------------------------------------------------------------------------------------
    def start(self):
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
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

    def fail_next(self, kind, times=1, delay=1.0, path=None, method=None):
        """Make the next ``times`` requests (optionally only those to ``path`` / with ``method``) fail with ``kind``."""
        assert kind in {"timeout", "timeout_after", "500", "503", "429", "bad_key"}, kind
        with self._lock:
            self._faults.append([kind, times, delay, path, method])

    def set_price(self, symbol_id, price):
        self.prices[symbol_id] = Decimal(str(price))

    def add_account(self, api_key, api_secret, balances, withdrawals=False):
        self.accounts[api_key] = {
            "restrictions": _restrictions(withdrawals=withdrawals),
            "secret": api_secret,
            "balances": {k: [Decimal(str(v)), Decimal(0)] for k, v in balances.items()},
        }

    def count(self, method, path):
        return sum(1 for m, p in self.requests if m == method and p == path)

    def set_restrictions(self, api_key, **flags):
        """Change what a key may do, e.g. ``set_restrictions(key, enableWithdrawals=True)``."""
        self.accounts[api_key]["restrictions"].update(flags)

    def _take_fault(self, method, path):
        with self._lock:
            for fault in self._faults:
                kind, remaining, delay, fpath, fmethod = fault
                if remaining > 0 and (fpath is None or fpath == path) and (fmethod is None or fmethod == method):
                    fault[1] -= 1
                    return kind, delay
        return None, 0

    # --- market data -----------------------------------------------------------------------------------------
    def _unified(self, symbol_id):
        base, quote = self.markets[symbol_id][:2]
        return f"{base}/{quote}"

    def book(self, symbol_id):
        if symbol_id in self.prices:
            mid = self.prices[symbol_id]
            tick = Decimal(self.markets[symbol_id][2])
            return (mid - tick).quantize(tick), (mid + tick).quantize(tick), mid
        t = simfeed.ticker(self._unified(symbol_id))
        return t["bid"], t["ask"], t["last"]


def _restrictions(withdrawals=False):
    return {
        "ipRestrict": False,
        "createTime": int(time.time() * 1000),
        "enableReading": True,
        "enableSpotAndMarginTrading": True,
        "enableWithdrawals": withdrawals,
        "enableInternalTransfer": False,
        "enableMargin": False,
        "enableFutures": False,
        "permitsUniversalTransfer": False,
        "enableVanillaOptions": False,
        "enablePortfolioMarginTrading": False,
    }


class ApiError(Exception):
    def __init__(self, status, code, msg):
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBinance
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

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

    def _dispatch(self, method):
        fake = self.fake
        parts = urlsplit(self.path)
        path = parts.path
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length).decode() if length else ""
        fake.requests.append((method, path))
        kind, delay = fake._take_fault(method, path)
        if kind == "timeout":
            time.sleep(delay)
        elif kind == "500":
            return self._send(500, {"code": -1000, "msg": "An unknown error occurred while processing the request."})
        elif kind == "503":
            return self._send(503, {"code": -1001, "msg": "Internal error; unable to process your request."})
        elif kind == "429":
            return self._send(
                429, {"code": -1003, "msg": "Too many requests; current limit is 1200 request weight per 1 MINUTE."}
            )
        elif kind == "bad_key":
            return self._send(401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            route = ROUTES.get((method, path))
            if route is None:
                raise ApiError(404, -1, f"unknown endpoint {method} {path}")
            handler, signed = route
            account = None
            if signed:
                signed_text = raw_body if method == "POST" else parts.query
                params = dict(parse_qsl(raw_body if method == "POST" else parts.query, keep_blank_values=True))
                account = self._authenticate(signed_text, params)
                query = params
            with fake._lock:
                status, payload = 200, handler(fake, query, account)
        except ApiError as exc:
            status, payload = exc.status, {"code": exc.code, "msg": exc.msg}
        if kind == "timeout_after":
            time.sleep(delay)
        self._send(status, payload)

    def _authenticate(self, signed_text, params):
        key = self.headers.get("X-MBX-APIKEY", "")
        account = self.fake.accounts.get(key)
        if account is None:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if "&signature=" not in signed_text:
            raise ApiError(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        payload, signature = signed_text.rsplit("&signature=", 1)
        expected = hmac.new(account["secret"].encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        if "timestamp" not in params:
            raise ApiError(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        return account


# --- endpoints -------------------------------------------------------------------------------------------------


def _now_ms():
    return int(time.time() * 1000)


def ping(fake, q, account):
    return {}


def server_time(fake, q, account):
    return {"serverTime": _now_ms()}


def exchange_info(fake, q, account):
    symbols = []
    for sid, (base, quote, tick, step, min_qty, max_qty, min_notional) in fake.markets.items():
        symbols.append(
            {
                "symbol": sid,
                "status": "TRADING",
                "baseAsset": base,
                "baseAssetPrecision": 8,
                "quoteAsset": quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                "icebergAllowed": True,
                "ocoAllowed": True,
                "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": True,
                "cancelReplaceAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00000000", "tickSize": tick},
                    {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": max_qty, "stepSize": step},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": "0", "maxQty": max_qty, "stepSize": "0"},
                    {
                        "filterType": "NOTIONAL",
                        "minNotional": min_notional,
                        "applyMinToMarket": True,
                        "maxNotional": "9000000.00000000",
                        "applyMaxToMarket": False,
                        "avgPriceMins": 5,
                    },
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
            }
        )
    return {"timezone": "UTC", "serverTime": _now_ms(), "rateLimits": [], "exchangeFilters": [], "symbols": symbols}


def _symbol(fake, q):
    sid = q.get("symbol", "")
    if sid not in fake.markets:
        raise ApiError(400, -1121, "Invalid symbol.")
    return sid


def ticker_24hr(fake, q, account):
    sid = _symbol(fake, q)
    bid, ask, last = fake.book(sid)
    now = _now_ms()
    return {
        "symbol": sid,
        "priceChange": "0",
        "priceChangePercent": "0",
        "weightedAvgPrice": _s(last),
        "prevClosePrice": _s(last),
        "lastPrice": _s(last),
        "lastQty": "0.01",
        "bidPrice": _s(bid),
        "bidQty": "1",
        "askPrice": _s(ask),
        "askQty": "1",
        "openPrice": _s(last),
        "highPrice": _s(ask),
        "lowPrice": _s(bid),
        "volume": "100",
        "quoteVolume": _s(last * 100),
        "openTime": now - 86_400_000,
        "closeTime": now,
        "firstId": 1,
        "lastId": 100,
        "count": 100,
    }


def book_ticker(fake, q, account):
    sid = _symbol(fake, q)
    bid, ask, _ = fake.book(sid)
    return {"symbol": sid, "bidPrice": _s(bid), "bidQty": "1", "askPrice": _s(ask), "askQty": "1"}


def depth(fake, q, account):
    """GET /api/v3/depth: ``limit`` levels a side around the book (the simulated feed's synthetic depth)."""
    from trading import fillmodel

    sid = _symbol(fake, q)
    bid, ask, _ = fake.book(sid)
    levels = fillmodel.book_levels(fake._unified(sid), bid, ask, min(int(q.get("limit") or 100), 5000))
    return {
        "lastUpdateId": 1,
        "bids": [[_s(Decimal(str(p))), _s(Decimal(str(a)))] for p, a in levels["bids"]],
        "asks": [[_s(Decimal(str(p))), _s(Decimal(str(a)))] for p, a in levels["asks"]],
    }


def klines(fake, q, account):
    sid = _symbol(fake, q)
    interval = q.get("interval", "1m")
    if interval not in TIMEFRAME_MS:
        raise ApiError(400, -1120, "Invalid interval.")
    limit = min(int(q.get("limit") or 500), 1000)
    span = TIMEFRAME_MS[interval]
    start = q.get("startTime")
    if start is not None and not fake.candles.get(sid):
        # Paged history (research backtests): ``limit`` candles from startTime on, as Binance answers.
        first = int(start) // span * span
        rows = simfeed.ohlcv(fake._unified(sid), interval, limit, now=(first + limit * span) / 1000)
        rows = [row for row in rows if int(row[0]) >= first]
    else:
        rows = fake.candles.get(sid) or simfeed.ohlcv(fake._unified(sid), interval, limit)
        rows = rows[-limit:]
    return [
        [int(ts), _s(o), _s(h), _s(lo), _s(c), _s(v), int(ts) + span - 1, _s(v * c), 10, "0", "0", "0"]
        for ts, o, h, lo, c, v in rows
    ]


def account_info(fake, q, account):
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "updateTime": _now_ms(),
        "accountType": "SPOT",
        "permissions": ["SPOT"],
        "balances": [
            {"asset": asset, "free": _s(free), "locked": _s(locked)}
            for asset, (free, locked) in sorted(account["balances"].items())
        ],
    }


def _order_view(order, full=False):
    view = {k: v for k, v in order.items() if not k.startswith("_")}
    if not full:
        view.pop("fills", None)
    return view


def _balance(account, asset):
    return account["balances"].setdefault(asset, [Decimal(0), Decimal(0)])


def new_order(fake, q, account):
    sid = _symbol(fake, q)
    base, quote, tick, step, min_qty, max_qty, min_notional = fake.markets[sid]
    side, otype = q.get("side"), q.get("type")
    if side not in ("BUY", "SELL") or otype not in ("MARKET", "LIMIT"):
        raise ApiError(400, -1116, "Invalid orderType.")
    client_id = q.get("newClientOrderId") or f"fake{next(fake._ids)}"
    for existing in fake.orders.values():
        if existing["_key"] is account and existing["clientOrderId"] == client_id and existing["status"] == "NEW":
            raise ApiError(400, -2010, "Duplicate order sent.")
    qty = Decimal(q.get("quantity") or "0")
    if qty % Decimal(step) != 0:
        raise ApiError(400, -1013, "Filter failure: LOT_SIZE")
    if qty < Decimal(min_qty) or qty > Decimal(max_qty):
        raise ApiError(400, -1013, "Filter failure: LOT_SIZE")
    bid, ask, _ = fake.book(sid)
    price = Decimal(q["price"]) if otype == "LIMIT" else None
    if otype == "LIMIT" and price % Decimal(tick) != 0:
        raise ApiError(400, -1013, "Filter failure: PRICE_FILTER")
    touch = ask if side == "BUY" else bid
    if (price or touch) * qty < Decimal(min_notional):
        raise ApiError(400, -1013, "Filter failure: NOTIONAL")
    marketable = otype == "MARKET" or (side == "BUY" and price >= ask) or (side == "SELL" and price <= bid)
    base_bal, quote_bal = _balance(account, base), _balance(account, quote)
    order_id = next(fake._ids)
    now = _now_ms()
    order = {
        "symbol": sid,
        "orderId": order_id,
        "orderListId": -1,
        "clientOrderId": client_id,
        "transactTime": now,
        "price": _s(price or 0),
        "origQty": _s(qty),
        "executedQty": "0",
        "cummulativeQuoteQty": "0",
        "status": "NEW",
        "timeInForce": "GTC",
        "type": otype,
        "side": side,
        "stopPrice": "0",
        "icebergQty": "0",
        "time": now,
        "updateTime": now,
        "isWorking": True,
        "workingTime": now,
        "origQuoteOrderQty": "0",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "fills": [],
        "_key": account,
    }
    if marketable:
        cost = (touch * qty).quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)
        fee = (cost * Decimal("0.001")).quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)
        if side == "BUY":
            if quote_bal[0] < cost + fee:
                raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
            quote_bal[0] -= cost + fee
            base_bal[0] += qty
        else:
            if base_bal[0] < qty:
                raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
            base_bal[0] -= qty
            quote_bal[0] += cost - fee
        order.update(
            {
                "executedQty": _s(qty),
                "cummulativeQuoteQty": _s(cost),
                "status": "FILLED",
                "fills": [
                    {
                        "price": _s(touch),
                        "qty": _s(qty),
                        "commission": _s(fee),
                        "commissionAsset": quote,
                        "tradeId": next(fake._ids),
                    }
                ],
            }
        )
    else:
        if side == "BUY":
            need = price * qty
            if quote_bal[0] < need:
                raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
            quote_bal[0] -= need
            quote_bal[1] += need
        else:
            if base_bal[0] < qty:
                raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
            base_bal[0] -= qty
            base_bal[1] += qty
    fake.orders[order_id] = order
    return _order_view(order, full=True)


def _find(fake, q, account):
    sid = _symbol(fake, q)
    for order in fake.orders.values():
        if order["_key"] is not account or order["symbol"] != sid:
            continue
        if q.get("orderId") and str(order["orderId"]) == q["orderId"]:
            return order
        if q.get("origClientOrderId") and order["clientOrderId"] == q["origClientOrderId"]:
            return order
    raise ApiError(400, -2013, "Order does not exist.")


def get_order(fake, q, account):
    return _order_view(_find(fake, q, account))


def cancel_order(fake, q, account):
    try:
        order = _find(fake, q, account)
    except ApiError:
        raise ApiError(400, -2011, "Unknown order sent.") from None
    if order["status"] != "NEW":
        raise ApiError(400, -2011, "Unknown order sent.")
    base, quote = fake.markets[order["symbol"]][:2]
    qty, price = Decimal(order["origQty"]), Decimal(order["price"])
    if order["side"] == "BUY":
        bal, amount = _balance(account, quote), price * qty
    else:
        bal, amount = _balance(account, base), qty
    bal[1] -= amount
    bal[0] += amount
    order["status"] = "CANCELED"
    order["updateTime"] = _now_ms()
    return _order_view(order)


def open_orders(fake, q, account):
    sid = q.get("symbol")
    return [
        _order_view(o)
        for o in fake.orders.values()
        if o["_key"] is account and o["status"] == "NEW" and (not sid or o["symbol"] == sid)
    ]


def api_restrictions(fake, q, account):
    return dict(account["restrictions"])


ROUTES = {
    ("GET", "/sapi/v1/account/apiRestrictions"): (api_restrictions, True),
    ("GET", "/api/v3/ping"): (ping, False),
    ("GET", "/api/v3/time"): (server_time, False),
    ("GET", "/api/v3/exchangeInfo"): (exchange_info, False),
    ("GET", "/api/v3/ticker/24hr"): (ticker_24hr, False),
    ("GET", "/api/v3/ticker/bookTicker"): (book_ticker, False),
    ("GET", "/api/v3/klines"): (klines, False),
    ("GET", "/api/v3/depth"): (depth, False),
    ("GET", "/api/v3/account"): (account_info, True),
    ("POST", "/api/v3/order"): (new_order, True),
    ("GET", "/api/v3/order"): (get_order, True),
    ("DELETE", "/api/v3/order"): (cancel_order, True),
    ("GET", "/api/v3/openOrders"): (open_orders, True),
}
