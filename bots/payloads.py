"""Response shapes of the bots app (API, events, admin)."""

from datetime import UTC, datetime

from django.utils import timezone

from amarktai.utils import iso, money
from bots.managed_view import is_managed, managed_payload
from bots.models import Bot, BotStatus, StrategySignal, WebhookEvent
from bots.strategies import RISK_PROFILES, STRATEGIES


def lock_holder(bot: Bot) -> str:
    """Who paused an admin-locked bot, as its owner may see it: "an administrator", with the admin's first name when
    they gave one. Never the admin's email address (an account identifier the owner has no need of)."""
    admin = bot.paused_by if bot.paused_by_id else None
    first = (admin.first_name or "").strip() if admin is not None else ""
    return f"an administrator ({first})" if first else "an administrator"


def admin_lock_payload(bot: Bot) -> dict | None:
    """{"paused_by", "reason", "paused_at"} of an admin-locked bot, else None."""
    if not bot.paused_by_admin:
        return None
    return {"paused_by": lock_holder(bot), "reason": bot.pause_reason, "paused_at": iso(bot.paused_at)}


def bot_payload(bot: Bot) -> dict:
    return {
        "id": str(bot.id),
        "name": bot.name,
        "exchange": bot.exchange,
        "symbol": bot.symbol,
        "account_group_id": str(bot.account_group_id) if bot.account_group_id else None,
        "status": bot.status,
        "trading_mode": bot.trading_mode,
        "risk_mode": bot.risk_mode,
        "strategy": bot.strategy,
        "params": bot.params,
        "initial_capital": money(bot.initial_capital, 2),
        "current_capital": money(bot.current_capital, 2),
        "total_profit": money(bot.total_profit, 2),
        "profit_percentage": money(bot.profit_percentage, 4),
        "last_error": bot.last_error,
        "failure_count": bot.failure_count,
        "last_decision": bot.last_decision or None,
        "last_decision_reason": bot.last_decision_reason,
        "last_decision_at": iso(bot.last_decision_at),
        "last_signal": bot.last_signal,
        "pause_origin": bot.pause_origin,
        "risk_block": bot.risk_block,
        "last_tick_at": iso(bot.last_tick_at),
        "created_at": iso(bot.created_at),
        "admin_lock": admin_lock_payload(bot),
        "webhook_enabled": bool(bot.webhook_token_hash),  # a signal bot with a secret URL (never shown again)
    }


def webhook_event_payload(event: WebhookEvent) -> dict:
    """One received alert as in GET /api/bots/{id}/webhooks."""
    return {
        "id": str(event.id),
        "received_at": iso(event.received_at),
        "source": event.source,
        "action": event.action or None,
        "symbol": event.symbol,
        "price": money(event.price),
        "size": money(event.size),
        "outcome": event.outcome,
        "code": event.code,
        "reason": event.reason,
        "order_id": str(event.order_id) if event.order_id else None,
        "payload": event.payload,
    }


def admin_bot_payload(bot: Bot) -> dict:
    return {**bot_payload(bot), "user_id": str(bot.user_id), "user_email": bot.user.email}


def signal_payload(signal: StrategySignal) -> dict:
    """A strategy signal as in GET /api/signals and the ``signal`` event (the ROBOAi guide's fields first)."""
    return {
        "id": str(signal.id),
        "symbol": signal.symbol,
        "signal": signal.side.upper(),
        "side": signal.side,
        "entry_price": money(signal.entry_price),
        "target": money(signal.target),
        "stop_loss": money(signal.stop_loss),
        "confidence": money(signal.confidence, 2),
        "reason": signal.reason,
        "strategy": signal.strategy,
        "bot_id": str(signal.bot_id) if signal.bot_id else None,
        "bot_name": signal.bot_name,
        "exchange": signal.exchange,
        "trading_mode": signal.trading_mode,
        "outcome": signal.outcome,
        "candle_time": iso(datetime.fromtimestamp(signal.candle_ts / 1000, UTC)),
        "timestamp": iso(signal.created_at),
    }


def activity(bot: Bot, now: datetime | None = None) -> dict:
    """Why the bot is (not) trading, in one line: {"state", "message", "at"}.

    state: "stopped", "paused", "backing_off" (its last ticks failed; the dispatcher waits longer before each retry),
    "waiting" (no decision yet), or the engine's last decision (bots.models.Decision: "no_signal", ...).
    """
    now = now or timezone.now()
    failures = bot.failure_count
    if bot.status == BotStatus.STOPPED:
        return {"state": "stopped", "message": "It no longer trades.", "at": iso(bot.updated_at)}
    if bot.status == BotStatus.PAUSED:
        message = "Resume it to trade again."
        if bot.last_error:
            message += f" Last error: {bot.last_error}"
        return {"state": "paused", "message": message, "at": iso(bot.updated_at)}
    if failures:
        retry = f" Next try at {iso(bot.next_tick_at)}." if bot.next_tick_at and bot.next_tick_at > now else ""
        ticks = "tick" if failures == 1 else "ticks"
        return {
            "state": "backing_off",
            "message": f"{failures} failed {ticks} in a row: {bot.last_error}{retry}",
            "at": iso(bot.last_tick_at),
        }
    if not bot.last_decision:
        return {
            "state": "waiting",
            "message": "The engine has not decided anything for it yet.",
            "at": iso(bot.created_at),
        }
    return {"state": bot.last_decision, "message": bot.last_decision_reason, "at": iso(bot.last_decision_at)}


def effective_params(bot: Bot) -> dict:
    """The parameters the bot trades with: its strategy's defaults overridden by its own params, and the position size,
    stop loss and take profit (fractions) its params or its risk mode give."""
    strategy = STRATEGIES.get(bot.strategy)
    params = bot.params or {}
    if is_managed(bot.strategy):  # DCA / grid: their own declared params, no position size or risk exits
        return strategy().params(params)
    risk = RISK_PROFILES.get(bot.risk_mode, RISK_PROFILES["balanced"])
    merged = strategy().params(params) if strategy else {}
    sized = {**merged, "position_pct": params.get("position_pct", risk.position_pct)}
    if strategy is not None and getattr(strategy, "kind", "") == "webhook":
        return sized  # a signal bot's alerts open and close its positions: no stop loss or take profit of its own
    return {**sized, "stop_loss_pct": risk.stop_loss_pct, "take_profit_pct": risk.take_profit_pct}


def bot_detail_payload(bot: Bot) -> dict:
    """GET /api/bots/{id}: the bot as in the list, plus the parameters it trades with, why it is (not) trading and when
    it ticks next."""
    return {
        **bot_payload(bot),
        "effective_params": effective_params(bot),
        "next_tick_at": iso(bot.next_tick_at),
        "activity": activity(bot),
        "managed": managed_payload(bot),
    }
