"""The only way events leave the domain: publish(user_id, type, payload).

Events go to the user's Channels group ``user.<id>`` and to the ``admins`` group, after the current database
transaction commits (never before, so no client sees a trade that was rolled back).

Payloads (JSON-safe: str ids, float money, ISO timestamps), by event type:
- bot_update:      {"bot_id", "status", "data": <the bot as in GET /api/bots>}
- trade_executed:  {"trade": <the trade as in GET /api/trades, plus "profit" (= profit_loss)>}
- alert:           {"level": "info"|"warning"|"error", "message", "bot_id" (optional)}
- order_update:    {"order": <the order as in GET /api/orders>}
- pnl_update:      {"bot_id", "total_profit", "current_capital", "profit_percentage"}
- overview_update: {"active_bots", "total_bots", "total_profit", "total_capital"}
- trade_update:    {"trades": [<trade>, ...]}  (recent trades batch; the SSE stream's trade_update)
- position_update: {"position": <the position as POST /api/positions/{id}/close answers it>, "reason"}  (a manual
                   exit placed its closing order, reason "manual exit"/"bot deleted"/...; the fills arrive as
                   trade_executed; or its stop loss / take profit changed, reason "limits")
The WebSocket and SSE consumers translate these into the contract's message shapes.

Every event gets a per-user sequence number ("id", 1, 2, 3, ...) and is kept for a while in a short per-user replay
buffer in the Django cache (Redis in production, so every process sees it): a reconnecting SSE client sends
Last-Event-ID and receives what it missed (at most the last ``REPLAY_BUFFER_SIZE`` events of the last
``REPLAY_TTL_SECONDS``). The channel-layer message is ``{"type": "amarktai.event", "event", "id", "user_id",
"payload", "timestamp"}``.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction

from amarktai.utils import iso_now

logger = logging.getLogger(__name__)

ADMIN_GROUP = "admins"

BOT_UPDATE = "bot_update"
TRADE_EXECUTED = "trade_executed"
TRADE_UPDATE = "trade_update"
OVERVIEW_UPDATE = "overview_update"
ALERT = "alert"
ORDER_UPDATE = "order_update"
PNL_UPDATE = "pnl_update"
POSITION_UPDATE = "position_update"
EVENT_TYPES = {
    BOT_UPDATE,
    TRADE_EXECUTED,
    TRADE_UPDATE,
    OVERVIEW_UPDATE,
    ALERT,
    ORDER_UPDATE,
    PNL_UPDATE,
    POSITION_UPDATE,
}


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


def _remember(user_id, message):
    """Give the event the user's next sequence number and keep it in the replay buffer.

    One atomic counter (cache.incr) and one key per event: no read-modify-write, so concurrent publishers in several
    processes never lose or reorder each other's events. Keys expire on their own; replay reads at most the newest
    REPLAY_BUFFER_SIZE of them.
    """
    key = _seq_key(user_id)
    cache.add(key, 0, timeout=None)
    try:
        seq = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.add(key, 0, timeout=None)
        seq = cache.incr(key)
    message["id"] = seq
    cache.set(_event_key(user_id, seq), message, REPLAY_TTL_SECONDS)
    return seq


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


async def _group_send_both(layer, user_id, message):
    # One event-loop hop for both groups (a sync caller outside any loop gets a fresh loop, and with channels-redis a
    # fresh connection, per async_to_sync call).
    await layer.group_send(user_group(user_id), message)
    await layer.group_send(ADMIN_GROUP, message)


def _send(user_id, event_type, payload):
    """Send one event now (no transaction wait): publish() calls it on commit."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = build_message(user_id, event_type, payload)
    try:
        _remember(user_id, message)
    except Exception:
        logger.warning("could not buffer %s for user %s", event_type, user_id, exc_info=True)
    try:
        from realtime.metrics import EVENTS_PUBLISHED

        EVENTS_PUBLISHED.labels(event_type).inc()
        async_to_sync(_group_send_both)(layer, user_id, message)
    except Exception:
        logger.warning("could not publish %s for user %s", event_type, user_id, exc_info=True)


def publish(user_id, event_type, payload):
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    transaction.on_commit(lambda: _send(user_id, event_type, payload))


def send_now(user_id, event_type, payload):
    """Send an event at once, for callers that are already past the commit (inside an on_commit callback)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    _send(user_id, event_type, payload)
