"""Domain events (realtime.events) -> the contract's WebSocket messages and SSE events. Pure functions, no I/O."""

from amarktai.utils import iso_now
from realtime import events as ev


def ws_message(message):
    """The WebSocket message for one channel-layer event, or None when it has no WebSocket form."""
    event = message.get("event")
    payload = message.get("payload") or {}
    if event == ev.BOT_UPDATE:
        return {
            "type": "bot_update",
            "bot_id": payload.get("bot_id"),
            "status": payload.get("status"),
            "data": payload.get("data") or {},
        }
    if event == ev.TRADE_EXECUTED:
        trade = dict(payload.get("trade") or {})
        if "profit" not in trade:
            trade["profit"] = trade.get("profit_loss", 0.0)
        return {"type": "trade_executed", "trade": trade}
    if event == ev.ALERT:
        return {"type": "alert", "level": payload.get("level", "info"), "message": payload.get("message", "")}
    if event == ev.OVERVIEW_UPDATE:
        return {"type": "overview_update", **payload, "timestamp": message.get("timestamp") or iso_now()}
    if event == ev.ORDER_UPDATE:
        return order_update(payload)
    if event in (ev.PNL_UPDATE, ev.TRADE_UPDATE, ev.POSITION_UPDATE):
        return {"type": event, **payload}
    if event == ev.SIGNAL:
        return signal_message(payload)
    if event == ev.MARKET_UPDATE:
        return {"type": "market_update", "data": payload}
    if event == ev.INDEX_UPDATE:  # as in GET /api/market/indices; its timestamp is that of its newest ticker
        return {"type": "index_update", **payload, "timestamp": payload.get("timestamp") or message.get("timestamp")}
    if event in (
        ev.TRADING_STATUS,
        ev.CONFIG_UPDATE,
        ev.SYSTEM_STATUS,
        ev.BACKTEST_PROGRESS,
        ev.MODEL_TRAINING_PROGRESS,
    ):
        return {"type": event, **payload, "timestamp": message.get("timestamp") or iso_now()}
    return None


def signal_message(payload):
    """A strategy signal, flat (the ROBOAi guide's trade_signal shape: symbol, signal, entry_price, target, stop_loss,
    confidence, timestamp, plus the rest of GET /api/signals' item). The same on the WebSocket and the SSE stream."""
    return {**payload, "type": "signal"}


def order_update(payload):
    """order_update with its status transition: {"type", "order", "order_id", "status", "previous_status"}
    (previous_status is null for a new order)."""
    order = payload.get("order") or {}
    return {
        "type": "order_update",
        "order": order,
        "order_id": order.get("id"),
        "status": order.get("status"),
        "previous_status": payload.get("previous_status"),
    }


def sse_trades(trades):
    trades = list(trades)
    return {"type": "recent_trades", "trades": trades, "count": len(trades), "timestamp": iso_now()}


def sse_overview(counts):
    return {"type": "overview", **counts, "timestamp": iso_now()}


def sse_pnl(payload):
    """The account-level pnl_update as an SSE event (the seed's {"type": "pnl", "total_pnl", "daily_pnl",
    "open_positions", "timestamp"}, plus the rest of the payload)."""
    return {"type": "pnl", **payload, "timestamp": iso_now()}


def sse_bot_count(total):
    return {"type": "bot_count_changed", "total_bots": total, "timestamp": iso_now()}


def sse_heartbeat(counter):
    return {"timestamp": iso_now(), "counter": counter}


def sse_session_closed(code, reason):
    """The last event of a stream whose credential ended (realtime.sessions): 4401 invalid, 4403 not allowed."""
    return {"type": "session_closed", "code": code, "reason": reason, "timestamp": iso_now()}


def format_sse(event, data, event_id=None):
    """One Server-Sent Events frame (bytes)."""
    import json

    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    for chunk in json.dumps(data, separators=(",", ":")).splitlines() or [""]:
        lines.append(f"data: {chunk}")
    return ("\n".join(lines) + "\n\n").encode()
