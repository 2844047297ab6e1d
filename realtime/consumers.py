"""WebSocket /api/ws: authenticated per-user event feed with ping/pong (see the contract's "WebSocket" section), and
market subscriptions: ``subscribe`` / ``unsubscribe`` batches of markets (realtime.markets) whose ``market_update``s
and scan ``signal``s the connection then receives."""

import asyncio
import json
import logging

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from amarktai.utils import iso_now
from realtime import auth, events, hub, markets, sessions, translate
from realtime.metrics import WS_CONNECTIONS, WS_MESSAGES

logger = logging.getLogger(__name__)

CLOSE_AUTH = sessions.CLOSE_AUTH  # the client's credential was missing, invalid, expired or revoked
CLOSE_FORBIDDEN = sessions.CLOSE_FORBIDDEN  # still valid, but no longer allowed this socket (an admin demoted)


_counters = {}
_last_event_id = database_sync_to_async(events.last_event_id)
_events_since = database_sync_to_async(events.events_since)


def _count(kind):
    """WS_MESSAGES for one message type, its labelled child looked up once per type rather than once per message."""
    counter = _counters.get(kind)
    if counter is None:
        counter = _counters[kind] = WS_MESSAGES.labels(kind)
    counter.inc()


class EventsConsumer(AsyncWebsocketConsumer):
    """Follows the route ``user.<id>`` of the fan-out hub (admins: ``admins``, which carries every user's events, so an
    admin never gets one twice) through its own events Sink (realtime.hub: published once per event, the text encoded
    once, in order, bounded), and joins the channel-layer groups ``session.<id>`` for the messages that end it
    (realtime.sessions) and ``broadcast``: the socket closes with 4401 when its JWT expires, its user is deactivated,
    the API key it was opened with is revoked or the user's sessions are revoked, and with 4403 when an admin socket's
    user loses admin rights. Once ended it sends nothing more: it leaves the hub (its pending events are dropped) and
    its groups before closing."""

    user = None
    session = None
    groups_joined = ()
    counted = False
    watch_task = None
    renew_task = None
    ended = False
    followed_markets = None  # {wire name: (exchange, symbol)} this connection follows (realtime.markets)
    market_sink = None  # this connection's end of realtime.hub, made at its first subscription
    events_route = None  # the hub route of its events: "user.<id>", or "admins" for an admin
    events_sink = None  # its events' end of realtime.hub
    last_event_id = 0  # the newest event sequence number sent (user sockets; for the replay after a hub gap)
    replayed_up_to = 0

    async def connect(self):
        raw = auth.raw_token(self.scope)
        self.user = await auth.authenticate(raw)
        if self.user is None:
            # Accept first, then close: a browser only sees the close code of an accepted socket.
            await self.accept()
            await self.close(code=CLOSE_AUTH)
            return
        self.session = await sessions.open_session(raw, self.user)
        self.events_route = events.ADMIN_GROUP if self.user.is_admin else events.user_group(self.user.pk)
        # Follow the events before accepting (with Redis, follow waits until this process's subscription is
        # confirmed): an event published once the handshake is done reaches the socket. Held until accepted.
        self.events_sink = hub.Sink(self._event_send, kind=hub.EVENTS, paused=True)
        await hub.follow(self.events_sink, [self.events_route, sessions.session_group(self.user.pk)])
        if self.events_route != events.ADMIN_GROUP:
            # Read after following: an event published in between is queued and still sent (only a replay after a
            # gap skips ids, those it sent itself).
            self.last_event_id = max(self.last_event_id, await _last_event_id(self.user.pk))
        self.groups_joined = (sessions.session_group(self.user.pk), events.BROADCAST_GROUP)
        for group in self.groups_joined:  # one after another: concurrent joins exhaust channels-redis' pool at scale
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        if self.events_sink is not None:
            self.events_sink.resume()
        WS_CONNECTIONS.inc()
        self.counted = True
        self.watch_task = asyncio.ensure_future(sessions.watch(self.session, self._end, self._admin_scope))

    def _admin_scope(self):
        return self.events_route == events.ADMIN_GROUP

    async def amarktai_session(self, message):
        verdict = sessions.decide(self.session, message, admin_scope=self._admin_scope())
        if verdict is not None:
            await self._end(*verdict)

    async def _end(self, code, reason):
        """Stop the feed at once (leave every group, send nothing more), then close with ``code``."""
        if self.ended:
            return
        self.ended = True
        logger.info("closing a WebSocket of user %s: %s (%s)", self.session.user_id, reason, code)
        self._stop_watch()
        await self._leave_groups()
        await self.close(code=code)

    def _stop_watch(self):
        task, self.watch_task = self.watch_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        renew, self.renew_task = self.renew_task, None
        if renew is not None and renew is not asyncio.current_task():
            renew.cancel()

    async def _leave_groups(self):
        sink, self.events_sink, self.events_route = self.events_sink, None, None
        if sink is not None:
            hub.unfollow(sink)
        groups, self.groups_joined = self.groups_joined, ()
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        followed, self.followed_markets = self.followed_markets, None
        sink, self.market_sink = self.market_sink, None
        if sink is not None:
            hub.unfollow(sink)
        if followed:
            try:
                await sync_to_async(markets.record)(self.user.pk, self.channel_name, [])
            except Exception:
                logger.warning("could not drop the market subscriptions of a closed WebSocket", exc_info=True)

    # --- the user's events (realtime.hub) -------------------------------------------------------------------
    async def _event_send(self, message):
        """realtime.hub hands this connection one of its events (on the sink's drain task, in order): send its text."""
        if self.ended:
            return
        kind = message.get("type")
        if kind == hub.GAP:
            await self._replay_gap()
            return
        if kind == sessions.MESSAGE_TYPE:  # in order with the events (realtime.sessions)
            await self.amarktai_session(message)
            return
        event_id = message.get("id")
        if isinstance(event_id, int) and self.events_route != events.ADMIN_GROUP:
            if event_id <= self.replayed_up_to:
                return  # already sent by the replay after a gap
            self.last_event_id = max(self.last_event_id, event_id)
        await self.amarktai_event(message)

    async def _replay_gap(self):
        """This process's Redis subscription was down: send, in order, the user's buffered events this socket has not
        had (an admin socket has no single buffer to replay: it misses the gap's events)."""
        if self.events_route == events.ADMIN_GROUP or self.user is None:
            return
        for message in await _events_since(self.user.pk, self.last_event_id):
            event_id = message.get("id")
            if self.ended or not isinstance(event_id, int) or event_id <= self.last_event_id:
                continue
            self.last_event_id = self.replayed_up_to = event_id
            out = translate.ws_message(message)
            if out is not None:
                _count(out["type"])
                await self._send_json(out)

    # --- market subscriptions (realtime.markets) ------------------------------------------------------------
    async def _hub_send(self, message):
        """realtime.hub hands this connection a market message (on its own drain task): forward its text."""
        if self.ended:
            return
        text = message.get("ws")
        if text is not None:
            _count(message.get("event"))
            await self.send(text_data=text)

    async def _subscribe(self, data):
        followed = dict(self.followed_markets or {})
        asked = markets.parse(data.get("symbols"))
        new = {name: market for name, market in asked.items() if name not in followed}
        await sync_to_async(markets.claim)(self.user.pk, self.channel_name, followed, new)
        followed.update(new)
        self.followed_markets = followed
        if self.market_sink is None:
            self.market_sink = hub.Sink(self._hub_send)
        await hub.follow(self.market_sink, list(new))
        if self.ended:  # closed while subscribing: _leave_groups may have run before the sink existed
            sink, self.market_sink = self.market_sink, None
            if sink is not None:
                hub.unfollow(sink)
            return
        await sync_to_async(markets.want)(list(new.values()))
        if self.renew_task is None:
            self.renew_task = asyncio.ensure_future(self._renew())
        await self._send_json({"type": "subscribed", "symbols": list(followed), "timestamp": iso_now()})

    async def _unsubscribe(self, data):
        followed = dict(self.followed_markets or {})
        raw = data.get("symbols")
        if not isinstance(raw, list) or not raw or len(raw) > markets.max_per_connection():
            raise markets.SubscriptionError('"symbols" must be a non-empty list of markets this connection follows')
        names = {markets.normalize(item) for item in raw}
        gone = {name: market for name, market in followed.items() if name in names}
        for name in gone:
            followed.pop(name)
        if self.market_sink is not None and gone:
            hub.unfollow(self.market_sink, list(gone))
        self.followed_markets = followed
        await sync_to_async(markets.record)(self.user.pk, self.channel_name, list(followed))
        await self._send_json(
            {"type": "unsubscribed", "symbols": list(gone), "subscribed": list(followed), "timestamp": iso_now()}
        )

    async def _renew(self):
        """While the connection follows markets: mark them wanted again and renew its entry under the user's key."""
        while not self.ended:
            await asyncio.sleep(markets.RENEW_SECONDS)
            followed = dict(self.followed_markets or {})
            if not followed:
                continue
            try:
                await sync_to_async(markets.record)(self.user.pk, self.channel_name, list(followed))
                await sync_to_async(markets.want)(list(followed.values()))
            except Exception:
                logger.warning("could not renew a WebSocket's market subscriptions", exc_info=True)

    async def disconnect(self, code):
        self._stop_watch()
        await self._leave_groups()
        if self.counted:
            WS_CONNECTIONS.dec()
            self.counted = False

    async def receive(self, text_data=None, bytes_data=None):
        if self.user is None or self.ended:
            return
        try:
            data = json.loads(text_data if text_data is not None else bytes_data)
        except (TypeError, ValueError):
            await self._send_json(
                {
                    "type": "error",
                    "error": "Messages must be JSON objects",
                    "error_code": "VALIDATION_ERROR",
                    "timestamp": iso_now(),
                }
            )
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "ping":
            await self._send_json({"type": "pong", "timestamp": iso_now()})
            return
        if kind in ("subscribe", "unsubscribe"):
            try:
                await (self._subscribe if kind == "subscribe" else self._unsubscribe)(data)
            except markets.SubscriptionError as exc:
                await self._send_json({**exc.message_body(), "timestamp": iso_now()})
            return
        await self._send_json(
            {
                "type": "error",
                "error": f"Unknown message type: {str(kind)[:40]}",
                "error_code": "VALIDATION_ERROR",
                "timestamp": iso_now(),
            }
        )

    async def amarktai_event(self, message):
        """An event from the hub (the user's) or the channel layer's broadcast group (platform-wide)."""
        if self.ended:
            return
        if "ws" in message:
            # Encoded once by the publisher (realtime.events): every socket it reaches sends the same text.
            text = message["ws"]
            if text is not None:
                _count(message.get("event"))
                await self.send(text_data=text)
            return
        out = translate.ws_message(message)  # a message from a publisher that did not encode it
        if out is not None:
            _count(out["type"])
            await self._send_json(out)

    async def _send_json(self, data):
        await self.send(text_data=json.dumps(data, separators=(",", ":")))
