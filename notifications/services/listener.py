"""Domain events -> notifications. ``on_event`` is registered with realtime.events.add_listener: it runs after the
publishing transaction commits, in the publisher's process, and only writes delivery rows (sending is a task), so it
costs the publisher one query when nobody subscribed.

- trade_executed                                   -> trade_executed
- bot_update to paused or stopped                  -> bot_paused (with the bot's last error, if any)
- alert with a bot_id (a failure), not a risk limit -> bot_paused, unless that bot's bot_update just did
- alert with "kind": "risk_limit"                  -> risk_limit
- alert with "kind": "protection"                  -> risk_limit (a bot's protection blocks its entries)
- alert with "kind": "new_device"                  -> new_device
- alert with "kind": "channel_disabled"            -> a notice to the user's email channels
"""

import logging
from typing import Any

from django.core.cache import cache

from notifications import selectors
from notifications.kinds import CHANNEL_DISABLED, EventKind
from notifications.services import delivery
from realtime import events

logger = logging.getLogger(__name__)

BOT_NOTICE_WINDOW_SECONDS = 30


def _bot_notice_once(bot_id: Any) -> bool:
    """True the first time in BOT_NOTICE_WINDOW_SECONDS for this bot (a pause and its reason arrive as two events)."""
    if not bot_id:
        return True
    return bool(cache.add(f"notify:bot:{bot_id}", 1, BOT_NOTICE_WINDOW_SECONDS))


def _trade(payload: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    trade = payload.get("trade") or {}
    mode = "paper" if trade.get("is_paper") else "live"
    side = str(trade.get("side") or "").upper()
    subject = f"Trade executed: {side} {trade.get('amount')} {trade.get('symbol')}"
    message = (
        f"{subject} at {trade.get('price')} on {trade.get('exchange')} ({mode}); fee {trade.get('fee')} "
        f"{trade.get('fee_currency') or ''}, profit/loss {trade.get('profit_loss')}."
    )
    return EventKind.TRADE_EXECUTED, subject, message, {"trade": trade}


def classify(event_type: str, payload: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]] | None:
    """(event kind, subject, message, data) for an event worth a notification, else None."""
    if event_type == events.TRADE_EXECUTED:
        return _trade(payload)
    if event_type == events.BOT_UPDATE and payload.get("status") in ("paused", "stopped"):
        bot = payload.get("data") or {}
        if not _bot_notice_once(payload.get("bot_id")):
            return None
        name = bot.get("name") or payload.get("bot_id")
        subject = f"Bot {name} {payload['status']}"
        message = subject + (f": {bot['last_error']}" if bot.get("last_error") else ".")
        return EventKind.BOT_PAUSED, subject, message, {"bot_id": payload.get("bot_id"), "status": payload["status"]}
    if event_type != events.ALERT:
        return None
    kind, message = payload.get("kind"), str(payload.get("message") or "")
    data = {key: value for key, value in payload.items() if key not in ("message",)}
    if kind == "risk_limit":
        return EventKind.RISK_LIMIT, "Risk limit hit", message, data
    if kind == "protection":
        return EventKind.RISK_LIMIT, "Protection triggered", message, data
    if kind == "new_device":
        return EventKind.NEW_DEVICE, "New sign-in to your Amarktai account", message, data
    if kind is None and payload.get("bot_id") and payload.get("level") in ("warning", "error"):
        if not _bot_notice_once(payload.get("bot_id")):
            return None
        return EventKind.BOT_PAUSED, "Bot problem", message, data
    return None


def on_event(user_id: Any, event_type: str, payload: dict[str, Any]) -> None:
    if event_type == events.ALERT and payload.get("kind") == CHANNEL_DISABLED:
        delivery.notify_email_channels(user_id, "A notification channel was switched off", payload["message"], payload)
        return
    found = classify(event_type, payload)
    if found is not None:
        delivery.notify(user_id, *found)


def on_events(items: list[tuple[Any, str, dict[str, Any]]]) -> None:
    """A batch of events (realtime.events.send_many): one query finds which of the batch's users subscribed to which
    kinds, so a batch of events of users without channels (most of a tick) costs one query, not one per event."""
    found = []
    for user_id, event_type, payload in items:
        if event_type == events.ALERT and payload.get("kind") == CHANNEL_DISABLED:
            on_event(user_id, event_type, payload)
            continue
        kind = classify(event_type, payload)
        if kind is not None:
            found.append((user_id, kind))
    if not found:
        return
    wanted = selectors.subscribed_kinds({user_id for user_id, _ in found}, {kind[0] for _, kind in found})
    for user_id, kind in found:
        if (str(user_id), kind[0]) not in wanted:
            continue
        try:
            delivery.notify(user_id, *kind)
        except Exception:  # one event's failure never costs the others theirs
            logger.warning("could not notify user %s of %s", user_id, kind[0], exc_info=True)


on_event.many = on_events  # type: ignore[attr-defined]
