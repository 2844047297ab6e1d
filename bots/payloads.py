"""Response shapes of the bots app (API, events, admin)."""

from amarktai.utils import iso, money
from bots.models import Bot


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
        "paused_by": bot.paused_by,
        "risk_block": bot.risk_block,
        "last_tick_at": iso(bot.last_tick_at),
        "created_at": iso(bot.created_at),
    }


def admin_bot_payload(bot: Bot) -> dict:
    return {**bot_payload(bot), "user_id": str(bot.user_id), "user_email": bot.user.email}
