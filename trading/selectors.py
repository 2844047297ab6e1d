"""Read-only queries shared by the trading views, the assistant and the real-time feeds. All scoped to one user."""

from decimal import Decimal
from typing import Any

from django.db.models import Q

from amarktai.tenancy import access
from amarktai.utils import iso, money
from trading.models import Order, Position, Trade

ZERO = Decimal("0")


def current_price(exchange: str, symbol: str) -> Decimal:
    from trading.exchanges import market_data

    ticker = market_data(exchange).fetch_ticker(symbol)
    return Decimal(str(ticker["last"]))


def open_positions(user: Any, prices: dict | None = None) -> list[dict]:
    """Open positions with unrealised P&L at the current price (one price fetch per exchange/symbol)."""
    prices = {} if prices is None else prices
    rows = []
    for position in Position.objects.owned_by(user).filter(is_open=True).order_by("-opened_at"):
        key = (position.exchange, position.symbol)
        if key not in prices:
            prices[key] = current_price(*key)
        price = prices[key]
        unrealised = (price - position.entry_price) * position.amount - position.entry_fee
        rows.append(
            {
                "id": str(position.id),
                "bot_id": str(position.bot_id) if position.bot_id else None,
                "exchange": position.exchange,
                "symbol": position.symbol,
                "side": "long",
                "amount": money(position.amount),
                "entry_price": money(position.entry_price),
                "current_price": money(price),
                "value": money(price * position.amount, 2),
                "unrealised_pnl": money(unrealised, 2),
                "unrealised_pnl_pct": money(unrealised / (position.entry_price * position.amount) * 100, 4)
                if position.entry_price and position.amount
                else 0.0,
                "stop_loss": money(position.stop_loss),
                "take_profit": money(position.take_profit),
                "opened_at": iso(position.opened_at),
            }
        )
    return rows


def access_order(user: Any, order_id: Any, *, lock: bool = False) -> Order:
    """One of the user's orders; 404 for a missing or another user's order alike."""
    return access(Order.objects, user, order_id, "Order", lock=lock)


def access_position(user: Any, position_id: Any, *, lock: bool = False) -> Position:
    """One of the user's positions (open or closed); 404 for a missing or another user's position alike."""
    return access(Position.objects, user, position_id, "Position", lock=lock)


def same_book(position: Position) -> Q:
    """Orders of the position's book: its bot's, or the user's own (no bot) for a manual position."""
    return Q(bot__isnull=True) if position.bot_id is None else Q(bot_id=position.bot_id)


def position_is_paper(position: Position) -> bool | None:
    """Whether a position was opened on the paper account: from the order that opened it (its bot's, or the user's own
    buy on that market), None when no filled buy is on record."""
    opening = (
        Order.objects.filter(
            same_book(position), user_id=position.user_id, exchange=position.exchange, symbol=position.symbol
        )
        .filter(side="buy", filled__gt=0)
        .order_by("-created_at")
        .only("is_paper")
        .first()
    )
    return None if opening is None else opening.is_paper


def trades_page(user: Any, *, bot_id: Any = None, offset: int = 0, limit: int = 100) -> tuple[list[Trade], int]:
    """The user's trades, newest first, and how many there are in all (optionally of one bot)."""
    trades = Trade.objects.owned_by(user)
    if bot_id:
        trades = trades.filter(bot_id=bot_id)
    return list(trades.order_by("-created_at", "-id")[offset : offset + limit]), trades.count()


def orders_page(user: Any, *, status: str | None = None, limit: int = 100) -> tuple[list[Order], int]:
    """The user's orders, newest first, and how many there are in all (optionally in one status)."""
    orders = Order.objects.owned_by(user)
    if status:
        orders = orders.filter(status=status)
    return list(orders.order_by("-created_at")[:limit]), orders.count()
