"""Response shapes of the trading app (API, events, assistant)."""

from amarktai.utils import iso, money
from trading.models import Order, Position, Trade


def trade_payload(trade: Trade) -> dict:
    return {
        "id": str(trade.id),
        "bot_id": str(trade.bot_id) if trade.bot_id else None,
        "exchange": trade.exchange,
        "symbol": trade.symbol,
        "side": trade.side,
        "amount": money(trade.amount),
        "price": money(trade.price),
        "fee": money(trade.fee),
        "fee_currency": trade.fee_currency,
        "profit_loss": money(trade.profit_loss),
        "is_paper": trade.is_paper,
        "price_source": trade.price_source or None,
        "timestamp": iso(trade.created_at),
    }


def order_payload(order: Order) -> dict:
    return {
        "id": str(order.id),
        "bot_id": str(order.bot_id) if order.bot_id else None,
        "parent_id": str(order.parent_id) if order.parent_id else None,
        "exchange": order.exchange,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "amount": money(order.amount),
        "price": money(order.price),
        "filled": money(order.filled),
        "average": money(order.average),
        "fee": money(order.fee),
        "status": order.status,
        "client_order_id": order.client_order_id,
        "is_paper": order.is_paper,
        "reason": order.reason,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
    }


def position_payload(position: Position) -> dict:
    """A position as it stands (open or closed): what a manual exit answers and the position_update event carries
    (``reason``: "manual exit", "bot deleted", "limits" when its stop loss or take profit changed, ...)."""
    return {
        "id": str(position.id),
        "bot_id": str(position.bot_id) if position.bot_id else None,
        "exchange": position.exchange,
        "symbol": position.symbol,
        "side": "long",
        "is_open": position.is_open,
        "amount": money(position.amount),
        "entry_price": money(position.entry_price),
        "realised_pnl": money(position.realised_pnl),
        "stop_loss": money(position.stop_loss),
        "take_profit": money(position.take_profit),
        "opened_at": iso(position.opened_at),
        "closed_at": iso(position.closed_at),
    }
