"""Response shapes of the bots app (API, events, admin)."""

from amarktai.utils import iso, money
from bots.models import Bot


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
        "last_tick_at": iso(bot.last_tick_at),
        "created_at": iso(bot.created_at),
        "admin_lock": admin_lock_payload(bot),
    }


def admin_bot_payload(bot: Bot) -> dict:
    return {**bot_payload(bot), "user_id": str(bot.user_id), "user_email": bot.user.email}
