"""Response shapes of the bots app (API, events, admin)."""

from datetime import UTC, datetime

from amarktai.utils import iso, money
from bots.models import Bot, StrategySignal


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
