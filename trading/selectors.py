"""Read-only queries shared by the trading views, the assistant and the real-time feeds. All scoped to one user."""

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from amarktai.tenancy import access
from amarktai.utils import iso, money
from trading.models import Order, Position, Trade
from trading.valuation import Valuation, bag_of, quote_of

ZERO = Decimal("0")


@dataclass
class ValuedPosition:
    """An open position at the current price of its own market data: live bots' positions on their exchange's
    tickers, paper positions on the paper source (``trading.exchanges.source_for``). ``price`` is None when no price
    could be had ("no price"): nothing is invented, and the position's unrealised P&L is then unknown."""

    position: Position
    bot_name: str | None
    trading_mode: str
    price_source: str
    price: Decimal | None

    @property
    def currency(self) -> str:
        return quote_of(self.position.symbol)

    @property
    def cost(self) -> Decimal:
        """What the position cost in its quote currency, fees included."""
        p = self.position
        return p.entry_price * p.amount + p.entry_fee

    @property
    def value(self) -> Decimal | None:
        return None if self.price is None else self.price * self.position.amount

    @property
    def unrealised(self) -> Decimal | None:
        p = self.position
        return None if self.price is None else (self.price - p.entry_price) * p.amount - p.entry_fee


PRICE_TTL_SECONDS = 2.0  # positions are re-read every few seconds by the dashboard and after every fill
_prices: dict[tuple[str, str, str], tuple[float, Decimal | None]] = {}
_prices_lock = threading.Lock()


def _price(exchange: str, symbol: str, source: str) -> Decimal | None:
    """The last price of a market from ``source``, kept for PRICE_TTL_SECONDS (one exchange call per market however
    many feeds and pages ask), or None ("no price")."""
    key = (exchange, symbol, source)
    now = time.monotonic()
    with _prices_lock:
        hit = _prices.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    price = _fetch_price(exchange, symbol, source)
    with _prices_lock:
        _prices[key] = (now + PRICE_TTL_SECONDS, price)
        if len(_prices) > 4096:
            for stale in [k for k, (expires, _) in _prices.items() if expires <= now]:
                del _prices[stale]
    return price


def _fetch_price(exchange: str, symbol: str, source: str) -> Decimal | None:
    from trading.exchanges import market_data

    try:
        last = market_data(exchange, source).fetch_ticker(symbol).get("last")
    except Exception:  # noqa: BLE001 - exchange unreachable / no such market: "no price", never a made-up one
        return None
    price = Decimal(str(last)) if last else None
    return price if price is not None and price.is_finite() and price > 0 else None


def valued_positions(user: Any, prices: dict | None = None) -> list[ValuedPosition]:
    """The user's open positions, newest first, each at its current price (one price per market and source)."""
    from accounts.models import LIVE_MODES
    from trading.exchanges import source_for

    prices = {} if prices is None else prices
    rows = list(Position.objects.owned_by(user).filter(is_open=True).select_related("bot").order_by("-opened_at"))
    manual_mode = None
    out = []
    for position in rows:
        bot = position.bot
        if bot is not None:
            mode = bot.trading_mode
        else:
            if manual_mode is None:  # a user's own orders follow the system mode (trading.services.manual_order)
                owner = user if hasattr(user, "system_mode") else position.user
                manual_mode = "live" if owner.system_mode in LIVE_MODES else "paper"
            mode = manual_mode
        source = source_for(mode)
        key = (position.exchange, position.symbol, source)
        if key not in prices:
            prices[key] = _price(position.exchange, position.symbol, source)
        out.append(ValuedPosition(position, bot.name if bot is not None else None, mode, source, prices[key]))
    return out


def position_payload(row: ValuedPosition, now: datetime | None = None) -> dict:
    position = row.position
    unrealised = row.unrealised
    cost = position.entry_price * position.amount
    now = now or timezone.now()
    return {
        "id": str(position.id),
        "bot_id": str(position.bot_id) if position.bot_id else None,
        "bot_name": row.bot_name,
        "trading_mode": row.trading_mode,
        "exchange": position.exchange,
        "symbol": position.symbol,
        "currency": row.currency,
        "side": "long",
        "amount": money(position.amount),
        "entry_price": money(position.entry_price),
        "current_price": money(row.price),
        "price_source": row.price_source,
        "priced": row.price is not None,
        "value": money(row.value, 2),
        "unrealised_pnl": money(unrealised, 2),
        "unrealised_pnl_pct": (money(unrealised / cost * 100, 4) if cost else 0.0) if unrealised is not None else None,
        "stop_loss": money(position.stop_loss),
        "take_profit": money(position.take_profit),
        "opened_at": iso(position.opened_at),
        "age_seconds": max(0, int((now - position.opened_at).total_seconds())),
    }


def open_positions(user: Any, prices: dict | None = None) -> list[dict]:
    """Open positions with unrealised P&L at the current price, in each position's quote currency."""
    now = timezone.now()
    return [position_payload(row, now) for row in valued_positions(user, prices)]


def positions_report(user: Any, valuation: Valuation | None = None) -> dict:
    """GET /api/positions (without the envelope): the positions in their own currencies, and their value and
    unrealised P&L converted into the user's base currency (positions with no price are counted in ``no_price`` and
    left out of both)."""
    valuation = valuation or Valuation.for_user(user)
    rows = valued_positions(user)
    now = timezone.now()
    totals, block = valuation.report(
        {
            "value": bag_of((r.currency, r.value) for r in rows),
            "unrealised_pnl": bag_of((r.currency, r.unrealised) for r in rows),
        }
    )
    return {
        "positions": [position_payload(r, now) for r in rows],
        "total": len(rows),
        "no_price": sum(1 for r in rows if r.price is None),
        **totals,
        **block,
    }


def access_order(user: Any, order_id: Any, *, lock: bool = False) -> Order:
    """One of the user's orders; 404 for a missing or another user's order alike."""
    return access(Order.objects, user, order_id, "Order", lock=lock)


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
