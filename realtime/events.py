"""The only way events leave the domain: publish(user_id, type, payload).

Events go to the user's route ``user.<id>`` and to the ``admins`` route of the fan-out hub (realtime.hub), after the
current database transaction commits (never before, so no client sees a trade that was rolled back): each event is
published ONCE, whatever the number of sockets (with Redis one PUBLISH per batch of events; each ASGI process's one
subscriber hands it to its local WebSockets and SSE streams following the user, or ``admins``).

Payloads (JSON-safe: str ids, float money, ISO timestamps), by event type:
- bot_update:      {"bot_id", "status", "data": <the bot as in GET /api/bots>}
- trade_executed:  {"trade": <the trade as in GET /api/trades, plus "profit" (= profit_loss)>}
- alert:           {"level": "info"|"warning"|"error", "message", "bot_id" (optional), "kind" (optional: what the
                   alert is about, for notifications: "risk_limit" a risk limit was hit, "new_device" a sign-in from a
                   device the account had not used, "channel_disabled" a notification channel was switched off,
                   "protection" a bot protection started blocking entries, with "protection": its name;
                   "order_poll" the order-status poller cannot read an account's orders, with "account_id" and
                   "exchange", once per streak of failures); a
                   watch list's price alert adds "instrument_id", "exchange", "symbol", "direction"
                   ("above"|"below"), "alert_level", "price"}
- order_update:    {"order": <the order as in GET /api/orders, with its "account_id">, "previous_status", "change"
                   ("placed"|"filled"|"partially_filled"|"canceled"|"rejected"|"updated": what happened; sent by
                   every exchange sync, the order-status poller's (trading.poller) included)}
- pnl_update:      per bot: {"scope": "bot", "bot_id", "currency" (the bot's quote), "total_profit", "current_capital",
                   "profit_percentage"}; per account (the seed's shape, in the user's base currency): {"scope":
                   "account", "total_pnl", "realised_pnl", "unrealised_pnl", "daily_pnl", "open_positions",
                   "positions_without_price", <valuation block>}; per trading account (only on that account's SSE
                   stream, computed there after its fills, never published): {"scope": "trading_account",
                   "account_id", the same figures of that account}
- overview_update: {"active_bots", "total_bots", "total_profit", "total_capital", "realised_pnl", "unrealised_pnl",
                   "total_pnl", "daily_pnl", "open_positions", "positions_without_price", <valuation block>}
  The valuation block (trading.valuation): {"currency", "rate_source", "rates", "breakdown", "unpriced"}.
- trade_update:    {"trades": [<trade>, ...]}  (recent trades batch; the SSE stream's trade_update)
- signal:          <the strategy signal as in GET /api/signals: "id", "symbol", "signal" ("BUY"|"SELL"), "side",
                   "entry_price", "target", "stop_loss", "confidence", "reason", "strategy", "bot_id", "outcome",
                   "timestamp", ...>  (WebSocket: {"type": "signal", ...the signal}; SSE: event "signal", the same)
- trading_status:  {"status": "running"|"stopped", "close_positions", "paused_bots", "resumed_bots",
                    "canceled_orders", "closed_positions", "errors"}  (the user's kill switch, bots.trading_switch)
- config_update:   {"section", "values"}  (a configuration section of the user changed, control app)
- system_status:   {"status": "running"|"stopped", "reason", "changed_at", "restarts"}  (the platform's
                   trading switch, trading.system; sent to everyone with broadcast(), not to one user)
- position_update: {"position": <the position as POST /api/positions/{id}/close answers it>, "reason"}  (a manual
                   exit placed its closing order, reason "manual exit"/"bot deleted"/...; the fills arrive as
                   trade_executed; or its stop loss / take profit changed, reason "limits")
- backtest_progress: {"backtest_id", "status" ("queued"|"running"|"done"|"failed"|"canceled"), "progress" (0..1),
                   "error"}  (a backtest of the user moved on, at most every 5 %; research app)
- model_training_progress: {"kind": "ranking"|"optimization", "run_id", "progress" (0..1), "status"
                   ("running"|"completed"|"failed"), "error"?, "scored"?, "total"?, "evaluated"?, "strategy"?,
                   "exchange"?, "symbol"?}  (a ranking run or parameter search the user started, ranking app)
- group_order_update: {"group_order": <the group order as in GET /api/group-orders/{id}: "status" ("working"|"filled"|
                   "partial"|"failed"), "accounts_filled", "accounts_failed", "children": [one per account and slice,
                   each with "account_id", "account_label", "status", "error"]>}  (mirror app: a group order's
                   children were placed; each child also sends its own order_update)
Orders, trades and positions carry ``account_id``: the trading account (wallets.ExchangeCredential) they are on, null
for the user's default account of the platform. The SSE stream ``?account=<id>`` filters on it (realtime.sse).
- market_update:   {"exchange", "symbol", "last", "bid", "ask", "change_pct", "volume", "timestamp"}  (a market's
                   ticker, to the WebSocket connections subscribed to it (realtime.markets), at most
                   MARKET_UPDATES_PER_SECOND per market, newer tickers coalesced; sent by the market app's fan-out,
                   not per user; WebSocket: {"type": "market_update", "data": <payload>})
- index_update:    {"id", "name", "quote", "value", "change_pct", "constituents", "timestamp"}  (a reference index
                   of GET /api/market/indices, recomputed every MARKET_INDEX_SECONDS; broadcast() to everyone)
  The market scan (GET /api/market/scan) sends each new opportunity as a ``signal`` to the connections subscribed to
  its market: {"exchange", "symbol", "strategy", "signal", "entry_price", "target", "stop_loss", "confidence",
  "reason", "timestamp", "source": "scan"}.
The WebSocket and SSE consumers translate these into the contract's message shapes.

Every event gets a per-user sequence number ("id", 1, 2, 3, ...) and is kept for a while in a short per-user replay
buffer in the Django cache (Redis in production, so every process sees it): a reconnecting SSE client sends
Last-Event-ID and receives what it missed (at most the last ``REPLAY_BUFFER_SIZE`` events of the last
``REPLAY_TTL_SECONDS``).

The hub message is ``{"type": "amarktai.event", "event", "id", "user_id", "payload", "timestamp", "routes", "ws"}``:
``routes`` is ``["user.<id>", "admins"]``; ``ws`` is the event's WebSocket message (realtime.translate.ws_message)
already encoded as JSON text, once per event by the publisher, so no consumer in any process translates or encodes it
again: every WebSocket of the user and every admin socket sends that same text (None: the event has no WebSocket form).
Each consumer holds the events for it in its own bounded queue (realtime.hub.Sink, REALTIME_EVENTS_MAX_PENDING,
never coalesced, a drop counted in ``amarktai_realtime_hub_dropped_total``), so one user's events reach each of the
user's sockets in the order published and a slow socket delays nobody else. After a process's Redis subscription
was lost and is back, its SSE streams and user WebSockets send what they missed from the replay buffer (realtime.hub).

``send_many(events)`` sends a batch of events (after their commit, like ``send_now``) in one go: the replay buffer
written with one ``set_many``, the batch published in one pipelined round trip (realtime.hub.send), so a publisher
with many events (a tick of many bots) pays per batch, not per event and socket. Session control messages
(realtime.sessions) and ``broadcast()`` still travel over the channel layer (groups ``session.<id>``, ``broadcast``).

Listeners (``add_listener(fn)``): higher layers (notifications) hear of every published event without this module
knowing them. ``fn(user_id, event_type, payload)`` runs after the commit, once per event, in the publishing process;
it must be quick (hand slow work to a task) and anything it raises is logged, never passed to the publisher.
"""

import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.db import transaction

from amarktai.utils import iso_now
from realtime import hub
from realtime.metrics import EVENTS_PUBLISHED

logger = logging.getLogger(__name__)

ADMIN_GROUP = "admins"

BOT_UPDATE = "bot_update"
TRADE_EXECUTED = "trade_executed"
TRADE_UPDATE = "trade_update"
OVERVIEW_UPDATE = "overview_update"
ALERT = "alert"
ORDER_UPDATE = "order_update"
PNL_UPDATE = "pnl_update"
SIGNAL = "signal"
POSITION_UPDATE = "position_update"
TRADING_STATUS = "trading_status"
CONFIG_UPDATE = "config_update"
SYSTEM_STATUS = "system_status"
BACKTEST_PROGRESS = "backtest_progress"
MODEL_TRAINING_PROGRESS = "model_training_progress"
MARKET_UPDATE = "market_update"
INDEX_UPDATE = "index_update"
GROUP_ORDER_UPDATE = "group_order_update"
EVENT_TYPES = {
    BOT_UPDATE,
    TRADE_EXECUTED,
    TRADE_UPDATE,
    OVERVIEW_UPDATE,
    ALERT,
    ORDER_UPDATE,
    PNL_UPDATE,
    TRADING_STATUS,
    CONFIG_UPDATE,
    SYSTEM_STATUS,
    SIGNAL,
    POSITION_UPDATE,
    BACKTEST_PROGRESS,
    MODEL_TRAINING_PROGRESS,
    MARKET_UPDATE,
    INDEX_UPDATE,
    GROUP_ORDER_UPDATE,
}
# Every WebSocket and SSE connection also joins this group: platform-wide events (system_status) reach everyone once.
BROADCAST_GROUP = "broadcast"


_listeners = []


def add_listener(fn):
    """Call ``fn(user_id, event_type, payload)`` for every event published from now on (after its commit). Adding the
    same function twice keeps one. A listener with a ``many`` attribute gets each batch of send_many at once instead:
    ``fn.many([(user_id, event_type, payload), ...])`` (one query per batch rather than per event)."""
    if fn not in _listeners:
        _listeners.append(fn)


def remove_listener(fn):
    if fn in _listeners:
        _listeners.remove(fn)


def _tell_listeners(items):
    for fn in list(_listeners):
        many = getattr(fn, "many", None)
        if many is not None:
            try:
                many(items)
            except Exception:  # a listener never breaks the publisher
                logger.warning("event listener %r failed on a batch of %d event(s)", fn, len(items), exc_info=True)
            continue
        for user_id, event_type, payload in items:
            try:
                fn(user_id, event_type, payload)
            except Exception:  # a listener never breaks the publisher
                logger.warning("event listener %r failed on %s for user %s", fn, event_type, user_id, exc_info=True)


def user_group(user_id):
    return f"user.{user_id}"


REPLAY_BUFFER_SIZE = 100
REPLAY_TTL_SECONDS = 600


def _seq_key(user_id):
    return f"rt:seq:{user_id}"


def _event_key(user_id, seq):
    return f"rt:ev:{user_id}:{seq}"


def last_event_id(user_id):
    """The sequence number of the user's newest event (0 when none is buffered)."""
    try:
        return int(cache.get(_seq_key(user_id)) or 0)
    except Exception:  # noqa: BLE001 - a down cache only costs the replay
        return 0


def _next_seq(user_id, count=1):
    """The last of the user's next ``count`` sequence numbers (one incr once the counter exists)."""
    key = _seq_key(user_id)
    try:
        return cache.incr(key, count)
    except ValueError:  # the user's first event (or the counter was evicted): create it, then count
        cache.add(key, 0, timeout=None)
        return cache.incr(key, count)


def _redis_client():
    """The default cache's Redis client when it is Redis (for pipelining), else None."""
    backend = caches["default"]
    if isinstance(backend, DjangoRedisCache):
        return backend._cache.get_client(write=True)
    return None


def _next_seqs(counts):
    """{user id: how many events} -> {user id: the last of its new sequence numbers}, taken atomically per user:
    with Redis one pipelined round trip for the whole batch (INCRBY creates a missing counter, without expiry, as
    add does)."""
    client = _redis_client()
    if client is None:
        return {user_id: _next_seq(user_id, count) for user_id, count in counts.items()}
    pipe = client.pipeline(transaction=False)
    for user_id, count in counts.items():
        pipe.incrby(cache.make_and_validate_key(_seq_key(user_id)), count)
    return dict(zip(counts, (int(last) for last in pipe.execute()), strict=True))


def events_since(user_id, after_id):
    """Buffered events of the user with id > after_id, oldest first (at most REPLAY_BUFFER_SIZE)."""
    newest = last_event_id(user_id)
    try:
        after_id = int(after_id)
    except (TypeError, ValueError):
        return []
    if after_id >= newest or after_id < 0:
        return []
    first = max(after_id + 1, newest - REPLAY_BUFFER_SIZE + 1)
    keys = [_event_key(user_id, seq) for seq in range(first, newest + 1)]
    try:
        found = cache.get_many(keys)
    except Exception:  # noqa: BLE001
        return []
    return [found[key] for key in keys if key in found]


def build_message(user_id, event_type, payload):
    return {
        "type": "amarktai.event",
        "event": event_type,
        "id": None,
        "user_id": str(user_id),
        "payload": payload,
        "timestamp": iso_now(),
    }


# realtime.translate.ws_message, set by realtime.apps.RealtimeConfig.ready() (translate imports this module, so this
# module cannot import it). Unset, messages go without "ws" and every consumer translates them itself.
_ws_translator = None


def set_ws_translator(fn):
    global _ws_translator
    _ws_translator = fn


def encode_ws(message):
    """The event's WebSocket message as compact JSON text, or None when it has no WebSocket form."""
    out = _ws_translator(message)
    return None if out is None else json.dumps(out, separators=(",", ":"))


def _with_ws(message):
    if _ws_translator is not None:
        message["ws"] = encode_ws(message)
    return message


def _prepare(items):
    """Listeners told, sequence numbers taken (one round trip for the batch), the batch's replay buffer written in one
    round trip (set_many), WebSocket text encoded: the messages to send, in the order given."""
    _tell_listeners(items)
    messages = [build_message(user_id, event_type, payload) for user_id, event_type, payload in items]
    counts = {}
    for message in messages:
        counts[message["user_id"]] = counts.get(message["user_id"], 0) + 1
    buffered = {}
    try:
        last = _next_seqs(counts)
    except Exception:
        logger.warning("could not number %d event(s)", len(messages), exc_info=True)
    else:
        following = {user_id: last[user_id] - count + 1 for user_id, count in counts.items()}
        for message in messages:
            user_id = message["user_id"]
            message["id"] = following[user_id]
            following[user_id] += 1
            buffered[_event_key(user_id, message["id"])] = dict(message)  # the buffered copy stays without the text
    for message in messages:
        message["routes"] = [user_group(message["user_id"]), ADMIN_GROUP]
        _with_ws(message)
    if buffered:
        try:
            cache.set_many(buffered, REPLAY_TTL_SECONDS)
        except Exception:
            logger.warning("could not buffer %d event(s)", len(buffered), exc_info=True)
    return messages


def send_many(items):
    """Send ``(user_id, event_type, payload)`` events now (callers past the commit): the batch is published once, in
    order, through the fan-out hub (realtime.hub.send: one pipelined Redis round trip, or in process without Redis)."""
    items = list(items)
    for _user_id, event_type, _payload in items:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
    messages = _prepare(items)
    if not messages:
        return
    try:
        counts = {}
        for message in messages:
            counts[message["event"]] = counts.get(message["event"], 0) + 1
        for event_type, count in counts.items():
            EVENTS_PUBLISHED.labels(event_type).inc(count)
        hub.send(messages)
    except Exception:
        logger.warning("could not publish %d event(s)", len(messages), exc_info=True)


def _send(user_id, event_type, payload):
    """Send one event now (no transaction wait): publish() calls it on commit."""
    send_many([(user_id, event_type, payload)])


def publish(user_id, event_type, payload):
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    transaction.on_commit(lambda: _send(user_id, event_type, payload))


def send_now(user_id, event_type, payload):
    """Send an event at once, for callers that are already past the commit (inside an on_commit callback)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    _send(user_id, event_type, payload)


def _broadcast_now(event_type, payload):
    layer = get_channel_layer()
    if layer is None:
        return
    message = _with_ws({**build_message("", event_type, payload), "user_id": None})
    try:
        EVENTS_PUBLISHED.labels(event_type).inc()
        async_to_sync(layer.group_send)(BROADCAST_GROUP, message)
    except Exception:
        logger.warning("could not broadcast %s", event_type, exc_info=True)


def broadcast(event_type, payload):
    """A platform-wide event (no sequence number, no replay: it describes state every client can read again) to every
    open connection, once the current transaction commits."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    transaction.on_commit(lambda: _broadcast_now(event_type, payload))
