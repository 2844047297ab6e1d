"""The fake Binance's public WebSocket market streams, for ccxt.pro's ``binance`` class (real ccxt.pro over a real
WebSocket on 127.0.0.1).

It speaks the part of https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams that ccxt.pro's
watch_ticker / watch_ohlcv use: a raw stream connection (``/ws`` or ``/ws/<anything>``) that takes
``{"method": "SUBSCRIBE" | "UNSUBSCRIBE", "params": ["btcusdt@ticker", "btcusdt@kline_1m", ...], "id": N}`` and answers
``{"result": null, "id": N}``, then pushes every subscribed stream's events every ``interval`` seconds:
``<symbol>@ticker`` -> a "24hrTicker" event, ``<symbol>@miniTicker`` -> a "24hrMiniTicker" event,
``<symbol>@kline_<interval>`` -> "kline" events of the last closed candle (x=true) and the one forming now
(the simulated feed's price, or the fake's pinned price / candles), ``<symbol>@bookTicker`` -> a best bid/ask update.

The stream is served under the path prefix ``/stream`` (``url`` = ``ws://127.0.0.1:PORT/stream``; ccxt.pro then
connects to ``.../stream/ws/0``): ccxt.pro's binance tells spot connections from futures ones by "/stream" in the URL,
which the real host name (stream.binance.com) carries.

Controls for tests: ``connections`` (WebSocket connections accepted so far), ``open_connections()``,
``messages_sent``, ``drop()`` (the server closes every connection: a dropped connection), ``pause()`` / ``resume()``
(connections stay open but nothing is sent: a stale feed), ``on_send`` (called with (stream, event) before each event
is sent: the latency bench stamps events).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal

from aiohttp import WSMsgType, web

from trading.exchanges import simfeed


def _s(value) -> str:
    return format(Decimal(str(value)).normalize(), "f")


class FakeBinanceStreams:
    def __init__(self, fake, interval: float = 0.2):
        self.fake = fake  # the FakeBinance whose markets, prices and candles the events carry
        self.interval = interval
        self.connections = 0
        self.messages_sent = 0
        self.subscribe_requests: list[list[str]] = []
        self.on_send = None
        self._paused = False
        self._sockets: dict[web.WebSocketResponse, set[str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None

    # --- control ---------------------------------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-binance-ws")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake exchange's stream server did not start")
        return self

    def stop(self):
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(10)
            self._loop = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/stream"

    def open_connections(self) -> int:
        return len(self._sockets)

    def streams(self) -> set[str]:
        """Every stream some open connection is subscribed to."""
        return set().union(*self._sockets.values()) if self._sockets else set()

    def drop(self):
        """Close every connection from the server side (the exchange dropped them)."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._drop(), self._loop).result(10)

    def pause(self):
        self._paused = True

    def resume(self):
        self._paused = False

    # --- server ----------------------------------------------------------------------------------------------
    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self):
        self._stopped = asyncio.Event()
        app = web.Application()
        app.router.add_get("/stream/ws", self._socket)
        app.router.add_get("/stream/ws/{name}", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]
        pusher = asyncio.ensure_future(self._push())
        self._ready.set()
        await self._stopped.wait()
        pusher.cancel()
        await self._drop()
        await self._runner.cleanup()

    async def _drop(self):
        for ws in list(self._sockets):
            await ws.close()
        self._sockets.clear()

    async def _socket(self, request):
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.connections += 1
        self._sockets[ws] = set()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    body = json.loads(msg.data)
                except ValueError:
                    await ws.send_json({"error": {"code": 2, "msg": "Invalid JSON"}})
                    continue
                method, params = body.get("method"), body.get("params") or []
                if method == "SUBSCRIBE":
                    self.subscribe_requests.append(list(params))
                    self._sockets.get(ws, set()).update(params)
                elif method == "UNSUBSCRIBE":
                    self._sockets.get(ws, set()).difference_update(params)
                await ws.send_json({"result": None, "id": body.get("id")})
        finally:
            self._sockets.pop(ws, None)
        return ws

    async def _push(self):
        while True:
            await asyncio.sleep(self.interval)
            if self._paused:
                continue
            for ws, streams in list(self._sockets.items()):
                for stream in list(streams):
                    for event in self.event(stream) or ():
                        if ws.closed:
                            break
                        if self.on_send is not None:
                            self.on_send(stream, event)
                        try:
                            await ws.send_str(json.dumps(event))
                            self.messages_sent += 1
                        except ConnectionError:
                            break

    # --- events ----------------------------------------------------------------------------------------------
    def _market(self, stream: str):
        name, _, channel = stream.partition("@")
        sid = name.upper()
        return (sid, channel) if sid in self.fake.markets else (None, channel)

    def event(self, stream: str) -> list[dict] | None:
        """The events one push of ``stream`` sends (a kline stream: the last closed candle, x=true, and the one forming
        now, as Binance's final update of a candle and its next one), or None for a stream this fake does not serve."""
        sid, channel = self._market(stream)
        if sid is None:
            return None
        now = int(time.time() * 1000)
        bid, ask, last = self.fake.book(sid)
        if channel == "ticker":
            return [
                {
                    "e": "24hrTicker",
                    "E": now,
                    "s": sid,
                    "p": "0",
                    "P": "0",
                    "w": _s(last),
                    "x": _s(last),
                    "c": _s(last),
                    "Q": "0.01",
                    "b": _s(bid),
                    "B": "1",
                    "a": _s(ask),
                    "A": "1",
                    "o": _s(last),
                    "h": _s(ask),
                    "l": _s(bid),
                    "v": "100",
                    "q": _s(last * 100),
                    "O": now - 86_400_000,
                    "C": now,
                    "F": 1,
                    "L": 100,
                    "n": 100,
                }
            ]
        if channel == "miniTicker":
            return [
                {"e": "24hrMiniTicker", "E": now, "s": sid, "c": _s(last), "o": _s(last), "h": _s(ask), "l": _s(bid)}
                | {"v": "100", "q": _s(last * 100)}
            ]
        if channel == "bookTicker":
            return [{"u": now, "s": sid, "b": _s(bid), "B": "1", "a": _s(ask), "A": "1"}]
        if channel.startswith("kline_"):
            interval = channel[len("kline_") :]
            if interval not in simfeed.TIMEFRAMES:
                return None
            span = simfeed.TIMEFRAMES[interval] * 60_000
            pinned = self.fake.candles.get(sid)
            if pinned:  # a test's pinned series: its last candle (closed)
                return [_kline(sid, interval, span, now, pinned[-1], True)]
            closed = simfeed.ohlcv(self.fake._unified(sid), interval, 1)[-1]
            forming_open = now // span * span
            forming = [forming_open, closed[4], max(closed[4], last), min(closed[4], last), last, Decimal(0)]
            return [_kline(sid, interval, span, now, closed, True), _kline(sid, interval, span, now, forming, False)]
        return None


def _kline(sid, interval, span, now, row, closed):
    ts, o, h, lo, c, v = row
    return {
        "e": "kline",
        "E": now,
        "s": sid,
        "k": {
            "t": int(ts),
            "T": int(ts) + span - 1,
            "s": sid,
            "i": interval,
            "f": 1,
            "L": 2,
            "o": _s(o),
            "c": _s(c),
            "h": _s(h),
            "l": _s(lo),
            "v": _s(v),
            "n": 2,
            "x": closed,
            "q": "0",
            "V": "0",
            "Q": "0",
            "B": "0",
        },
    }
