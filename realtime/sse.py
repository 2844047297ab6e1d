"""SSE GET /api/realtime/events: an async Channels HTTP consumer (served by Daphne, never a blocking Django view).

Events (contract "Real-time Communication"): heartbeat every ``SSE_HEARTBEAT_SECONDS``, overview_update (one at connect,
then on overview/pnl/bot events), bot_update (bot_count_changed) on bot events, trade_update (recent_trades) on trade
events, signal (a strategy signal, as in GET /api/signals) on signal events, pnl_update (``{"type": "pnl",
"total_pnl", "daily_pnl", "open_positions", ...}``, the account-level figures in the user's base currency) after fills,
and order_update, config_update, trading_status, system_status and index_update (platform-wide, to every stream) in the
WebSocket's shapes. ``?symbols=luno:BTC/ZAR,binance:ETH/USDT`` subscribes the stream to those markets as a WebSocket
``subscribe`` does (realtime.markets: the same limits, counted with the user's WebSockets; an unknown market or a limit
is a 400 in the error schema): ``market_update`` events (``{"type": "market_update", "data": {...}}``) and the market
scan's ``signal``s for them. Every frame carries an ``id:`` line: the user's event sequence number (realtime.events).
A client reconnecting with ``Last-Event-ID`` (header, or ``?last_event_id=`` for clients that cannot set it) first
receives the buffered events it missed. Auth: ``Authorization: Bearer <token>`` or ``?token=`` (EventSource cannot set
headers); failure is a 401 in the error schema.

Per trading account: ``?account=<id>`` streams only that account's events (issue 14): order_update, trade_update and
position_update of orders, trades and positions whose ``account_id`` is that account, a pnl_update with the account's
own P&L (``{"type": "pnl", "scope": "trading_account", "account_id", "total_pnl", "realised_pnl", "unrealised_pnl",
"daily_pnl", "open_positions", ...}``) at connect and after each of its fills, and the platform-wide trading_status /
system_status; never another account's or user's events, nor the user-wide overview, bot and signal events. An id that
is not one of the user's accounts (another user's, a missing or malformed one) is a 404 in the error schema.

The stream ends when its credential does (realtime.sessions): at the JWT's expiry, when the user is deactivated, the API
key it was opened with is revoked or the user's sessions are revoked (and at the latest one REALTIME_RECHECK_SECONDS
after any other change that makes the credential invalid). It then sends a last ``session_closed`` event
(``{"type": "session_closed", "code": 4401, "reason": ..., "timestamp": ...}``) and ends the body; EventSource
reconnects with the same credential and gets a 401, which stops it.
"""

import asyncio
import json
import logging
import re
import uuid
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings

from amarktai import errors
from realtime import auth, events, hub, markets, providers, sessions, translate
from realtime.metrics import SSE_CONNECTIONS, SSE_MESSAGES

logger = logging.getLogger(__name__)

STREAM_HEADERS = [
    (b"Content-Type", b"text/event-stream; charset=utf-8"),
    (b"Cache-Control", b"no-cache"),
    (b"X-Accel-Buffering", b"no"),
]

_last_event_id = database_sync_to_async(events.last_event_id)
_events_since = database_sync_to_async(events.events_since)
_overview = database_sync_to_async(lambda user_id: providers.user_snapshot("overview", user_id))
_total_bots = database_sync_to_async(lambda user_id: providers.user_snapshot("total_bots", user_id))
_owns_account = database_sync_to_async(lambda user_id, pk: providers.account_snapshot("owns", user_id, pk))
_account_pnl = database_sync_to_async(lambda user_id, pk: providers.account_snapshot("pnl", user_id, pk))
UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def _account_of(item):
    return str((item or {}).get("account_id") or "")


class EventStreamConsumer(AsyncHttpConsumer):
    streaming = False
    user = None
    session = None
    groups = ()
    heartbeat_task = None
    watch_task = None
    ended = False
    last_id = 0
    replayed_up_to = 0
    counted = False
    account_id = None  # ?account=<id>: only this trading account's events
    followed = None  # {wire name: (exchange, symbol)} from ?symbols=
    renew_task = None
    market_sink = None  # this stream's end of realtime.hub (with ?symbols=)
    events_sink = None  # the user's events' end of realtime.hub (route user.<id>)

    # The base class ends the response when handle() returns; a stream stays open until the client goes away.
    async def http_request(self, message):
        if "body" in message:
            self.body.append(message["body"])
        if message.get("more_body"):
            return
        try:
            await self.handle(b"".join(self.body))
        except Exception:
            await self.disconnect()
            raise
        if not self.streaming:
            await self.disconnect()
            raise StopConsumer()

    async def _error(self, status, message, code, extra_headers=()):
        body = json.dumps(errors.error_body(message, code)).encode()
        headers = [(b"Content-Type", b"application/json"), *extra_headers]
        await self.send_response(status, body, headers=headers)

    async def handle(self, body):
        if self.scope.get("method") != "GET":
            await self._error(405, "Method not allowed", errors.METHOD_NOT_ALLOWED, [(b"Allow", b"GET")])
            return
        raw = auth.raw_token(self.scope)
        if raw is None:
            await self._error(
                401,
                "Authentication credentials were not provided",
                errors.AUTH_REQUIRED,
                [(b"WWW-Authenticate", b'Bearer realm="api"')],
            )
            return
        self.user = await auth.authenticate(raw)
        if self.user is None:
            await self._error(
                401, "Invalid or expired token", errors.AUTH_INVALID, [(b"WWW-Authenticate", b'Bearer realm="api"')]
            )
            return
        query = parse_qs((self.scope.get("query_string") or b"").decode("latin-1"), keep_blank_values=True)
        account = query["account"][0] if "account" in query else None  # given but empty: no such account (404)
        if account is not None:
            account = account.strip().lower()
            if not UUID.fullmatch(account) or not await _owns_account(self.user.pk, account):
                await self._error(404, "Account not found", errors.NOT_FOUND)
                return
            self.account_id = str(uuid.UUID(account))
        asked = auth.query_param(self.scope, "symbols")
        if asked is not None:
            try:
                self.followed = markets.parse([part.strip() for part in asked.split(",") if part.strip()] or None)
                await sync_to_async(markets.claim)(self.user.pk, self.channel_name, [], self.followed)
            except markets.SubscriptionError as exc:
                body = exc.message_body()
                await self.send_response(
                    400,
                    json.dumps(errors.error_body(body["error"], body["error_code"], body.get("details"))).encode(),
                    headers=[(b"Content-Type", b"application/json")],
                )
                return
        self.session = await sessions.open_session(raw, self.user)

        await self.send_headers(status=200, headers=STREAM_HEADERS)
        self.streaming = True
        SSE_CONNECTIONS.inc()
        self.counted = True
        # Follow the user's events before reading the buffer: an event published in between is both replayed and
        # queued in the (paused) sink, which sends only after the opening frames and skips what the replay sent.
        self.events_sink = hub.Sink(self._hub_event, kind=hub.EVENTS, paused=True)
        await hub.follow(self.events_sink, [events.user_group(self.user.pk), sessions.session_group(self.user.pk)])
        self.groups = (sessions.session_group(self.user.pk), events.BROADCAST_GROUP)
        if self.followed:
            await sync_to_async(markets.want)(list(self.followed.values()))
            # The market messages come from the process's hub (published once, whatever the number of streams);
            # held until the stream's opening frames are out.
            self.market_sink = hub.Sink(self.amarktai_event, paused=True)
            await hub.follow(self.market_sink, list(self.followed))
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)

        resume = auth.header(self.scope, "last-event-id") or auth.query_param(self.scope, "last_event_id")
        self.last_id = await _last_event_id(self.user.pk)
        chunks = [b"retry: 3000\n\n"]
        if resume is not None and re.fullmatch(r"[0-9]{1,18}", resume.strip()):  # ASCII only, bounded
            for message in await _events_since(self.user.pk, int(resume.strip())):
                chunks.extend(await self._frames(message))
                if isinstance(message.get("id"), int):
                    self.replayed_up_to = message["id"]
        if self.account_id is not None:
            chunks.append(
                self._frame("pnl_update", translate.sse_pnl(await _account_pnl(self.user.pk, self.account_id)))
            )
        else:
            chunks.append(self._frame("overview_update", translate.sse_overview(await _overview(self.user.pk))))
        await self.send_body(b"".join(chunks), more_body=True)
        self.heartbeat_task = asyncio.ensure_future(self._heartbeat())
        self.events_sink.resume()
        if self.market_sink is not None:
            self.market_sink.resume()
        if self.followed:
            self.renew_task = asyncio.ensure_future(self._renew_markets())
        # The stream only carries the user's own events, whatever the user's role: nothing to demote.
        self.watch_task = asyncio.ensure_future(sessions.watch(self.session, self._end))

    def _frame(self, event, data, event_id=None):
        SSE_MESSAGES.labels(event).inc()
        return translate.format_sse(event, data, self.last_id if event_id is None else event_id)

    async def _frames(self, message):
        """The SSE frames for one domain event (several event types have no SSE form: [])."""
        event_id = message.get("id")
        if isinstance(event_id, int):
            self.last_id = max(self.last_id, event_id)
        kind, payload = message.get("event"), message.get("payload") or {}
        if self.account_id is not None:
            return await self._account_frames(kind, payload, message, event_id)
        if kind == events.BOT_UPDATE:
            return [
                self._frame("bot_update", translate.sse_bot_count(await _total_bots(self.user.pk)), event_id),
                self._frame("overview_update", translate.sse_overview(await _overview(self.user.pk)), event_id),
            ]
        if kind == events.TRADE_EXECUTED:
            trade = dict(payload.get("trade") or {})
            trade.setdefault("profit", trade.get("profit_loss", 0.0))
            return [self._frame("trade_update", translate.sse_trades([trade]), event_id)]
        if kind == events.TRADE_UPDATE:
            return [self._frame("trade_update", translate.sse_trades(payload.get("trades") or []), event_id)]
        if kind == events.OVERVIEW_UPDATE:
            keys = ("active_bots", "total_bots", "total_profit", "total_capital")
            counts = dict(payload) if all(k in payload for k in keys) else await _overview(self.user.pk)
            return [self._frame("overview_update", translate.sse_overview(counts), event_id)]
        if kind == events.PNL_UPDATE and payload.get("scope") == "account":
            return [self._frame("pnl_update", translate.sse_pnl(payload), event_id)]
        if kind == events.PNL_UPDATE:
            return [self._frame("overview_update", translate.sse_overview(await _overview(self.user.pk)), event_id)]
        if kind == events.SIGNAL:
            return [self._frame("signal", translate.signal_message(payload), event_id)]
        if kind == events.MARKET_UPDATE:
            return [self._frame("market_update", translate.ws_message(message), event_id)]
        if kind in (
            events.ORDER_UPDATE,
            events.CONFIG_UPDATE,
            events.SYSTEM_STATUS,
            events.TRADING_STATUS,
            events.BACKTEST_PROGRESS,
            events.MODEL_TRAINING_PROGRESS,
            events.INDEX_UPDATE,
        ):
            # The same shape as the WebSocket message (event name = its type).
            return [self._frame(kind, translate.ws_message(message), event_id)]
        return []

    async def _account_frames(self, kind, payload, message, event_id):
        """The frames of one event on a per-account stream: only what happened on ``self.account_id``."""
        mine = self.account_id
        if kind in (events.SYSTEM_STATUS, events.TRADING_STATUS):
            return [self._frame(kind, translate.ws_message(message), event_id)]
        if kind == events.ORDER_UPDATE and _account_of(payload.get("order")) == mine:
            return [self._frame(kind, translate.ws_message(message), event_id)]
        if kind == events.POSITION_UPDATE and _account_of(payload.get("position")) == mine:
            return [self._frame(kind, translate.ws_message(message), event_id)]
        if kind == events.TRADE_EXECUTED and _account_of(payload.get("trade")) == mine:
            trade = dict(payload.get("trade") or {})
            trade.setdefault("profit", trade.get("profit_loss", 0.0))
            frames = [self._frame("trade_update", translate.sse_trades([trade]), event_id)]
            try:
                pnl = await _account_pnl(self.user.pk, mine)
            except Exception:
                logger.debug("no P&L for account %s", mine, exc_info=True)
            else:
                frames.append(self._frame("pnl_update", translate.sse_pnl(pnl), event_id))
            return frames
        if kind == events.TRADE_UPDATE:
            trades = [t for t in payload.get("trades") or [] if _account_of(t) == mine]
            return [self._frame("trade_update", translate.sse_trades(trades), event_id)] if trades else []
        return []

    async def amarktai_event(self, message):
        if not self.streaming or self.ended:
            return
        event_id = message.get("id")
        if isinstance(event_id, int) and event_id <= self.replayed_up_to:
            return  # already sent by the Last-Event-ID replay
        frames = await self._frames(message)
        if frames:
            await self.send_body(b"".join(frames), more_body=True)

    async def _hub_event(self, message):
        """One of the user's events from realtime.hub (on the sink's drain task, in order); after a gap in this
        process's Redis subscription, the buffered events newer than the last one sent."""
        kind = message.get("type")
        if kind == sessions.MESSAGE_TYPE:  # in order with the events (realtime.sessions)
            await self.amarktai_session(message)
            return
        if kind != hub.GAP:
            await self.amarktai_event(message)
            return
        if not self.streaming or self.ended:
            return
        frames = []
        for missed in await _events_since(self.user.pk, self.last_id):
            if isinstance(missed.get("id"), int) and missed["id"] > self.last_id:
                frames.extend(await self._frames(missed))
                self.replayed_up_to = max(self.replayed_up_to, missed["id"])
        if frames and not self.ended:
            await self.send_body(b"".join(frames), more_body=True)

    async def amarktai_session(self, message):
        verdict = sessions.decide(self.session, message)
        if verdict is not None:
            await self._end(*verdict)

    async def _end(self, code, reason):
        """End the stream now: a last session_closed event, then the end of the body (the server then disconnects)."""
        if self.ended or not self.streaming:
            return
        self.ended = True
        logger.info("ending an SSE stream of user %s: %s (%s)", self.session.user_id, reason, code)
        self._stop_tasks()
        await self._leave_groups()
        frame = self._frame("session_closed", translate.sse_session_closed(code, reason))
        await self.send_body(frame, more_body=False)

    def _stop_tasks(self):
        current = asyncio.current_task()
        for name in ("heartbeat_task", "watch_task", "renew_task"):
            task = getattr(self, name)
            setattr(self, name, None)
            if task is not None and task is not current:
                task.cancel()

    async def _leave_groups(self):
        events_sink, self.events_sink = self.events_sink, None
        if events_sink is not None:
            hub.unfollow(events_sink)
        groups, self.groups = self.groups, ()
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        sink, self.market_sink = self.market_sink, None
        if sink is not None:
            hub.unfollow(sink)
        followed, self.followed = self.followed, None
        if followed:
            try:
                await sync_to_async(markets.record)(self.user.pk, self.channel_name, [])
            except Exception:
                logger.warning("could not drop the market subscriptions of a closed SSE stream", exc_info=True)

    async def _renew_markets(self):
        """While the stream follows markets: keep them wanted and its entry under the user's key (realtime.markets)."""
        while not self.ended:
            await asyncio.sleep(markets.RENEW_SECONDS)
            followed = dict(self.followed or {})
            if not followed:
                return
            try:
                await sync_to_async(markets.record)(self.user.pk, self.channel_name, list(followed))
                await sync_to_async(markets.want)(list(followed.values()))
            except Exception:
                logger.warning("could not renew an SSE stream's market subscriptions", exc_info=True)

    async def _heartbeat(self):
        interval = float(settings.SSE_HEARTBEAT_SECONDS)
        counter = 0
        try:
            while True:
                await asyncio.sleep(interval)
                counter += 1
                await self.send_body(self._frame("heartbeat", translate.sse_heartbeat(counter)), more_body=True)
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.debug("heartbeat stopped", exc_info=True)

    async def disconnect(self):
        self._stop_tasks()
        await self._leave_groups()
        if self.counted:
            SSE_CONNECTIONS.dec()
            self.counted = False
