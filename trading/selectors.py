"""Read-only queries shared by the trading views, the assistant and the real-time feeds. All scoped to one user."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import F, QuerySet

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


def filtered_trades(
    user: Any,
    *,
    bot_id: Any = None,
    symbol: str | None = None,
    side: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet:
    """The user's trades matching the filters (``end`` exclusive), newest first (a stable order: time, then id), each
    annotated with ``bot_name``. Another user's bot id matches nothing."""
    trades = Trade.objects.owned_by(user)
    if bot_id:
        trades = trades.filter(bot_id=bot_id)
    if symbol:
        trades = trades.filter(symbol=symbol)
    if side:
        trades = trades.filter(side=side)
    if start is not None:
        trades = trades.filter(created_at__gte=start)
    if end is not None:
        trades = trades.filter(created_at__lt=end)
    return trades.annotate(bot_name=F("bot__name")).order_by("-created_at", "-id")


def trades_page(user: Any, *, offset: int = 0, limit: int = 100, **filters: Any) -> tuple[list[Trade], int]:
    """One page of the user's trades, newest first, and how many match in all (filters as ``filtered_trades``)."""
    trades = filtered_trades(user, **filters)
    return list(trades[offset : offset + limit]), trades.count()


# --- Round trips -------------------------------------------------------------------------------------------------
# A round trip is what one position went through: the buys that opened and grew it and the sells that closed it, in
# the order they filled. It pairs trades exactly as trading.services.record_fill books positions (one position per
# user, exchange, symbol and bot; a sell closes at most what is open; the position closes when nothing is left), so the
# round trips of a bot add up to its realised P&L: every trade belongs to exactly one round trip.


def _round_trip(first: Trade) -> dict:
    return {
        "id": str(first.id),
        "bot_id": str(first.bot_id) if first.bot_id else None,
        "bot_name": getattr(first, "bot_name", None),
        "exchange": first.exchange,
        "symbol": first.symbol,
        "status": "open",
        "entry_at": None,
        "exit_at": None,
        "_bought": ZERO,
        "_buy_cost": ZERO,
        "_sold": ZERO,
        "_sell_value": ZERO,
        "_fees": ZERO,
        "_pnl": ZERO,
        "_open": ZERO,
        "trades": 0,
        "fee_currency": first.fee_currency,
    }


def _finish(trip: dict) -> tuple[datetime, dict]:
    """(when the round trip began, the round trip as the API shows it)."""
    bought, sold, cost = trip.pop("_bought"), trip.pop("_sold"), trip.pop("_buy_cost")
    value, fees, pnl = trip.pop("_sell_value"), trip.pop("_fees"), trip.pop("_pnl")
    trip.pop("_open")
    entry_price = cost / bought if bought else None
    entry_at, exit_at = trip["entry_at"], trip["exit_at"]
    closed = trip["status"] == "closed"
    trip.update(
        entry_at=iso(entry_at),
        exit_at=iso(exit_at) if closed else None,
        last_exit_at=iso(exit_at),
        entry_price=money(entry_price),
        exit_price=money(value / sold) if sold else None,
        amount=money(bought),
        exit_amount=money(sold),
        cost=money(cost, 2),
        fees=money(fees),
        profit_loss=money(pnl),
        profit_pct=money(pnl / cost * 100, 4) if cost else None,
        duration_seconds=int((exit_at - entry_at).total_seconds()) if closed and entry_at and exit_at else None,
    )
    return entry_at or exit_at, trip


def _pair(trades: Iterable[Trade]) -> list[tuple[datetime, dict]]:
    """(began, round trip) of ``trades`` (given oldest first), by when they began (then by id)."""
    done: list[tuple[datetime, dict]] = []
    open_trips: dict[tuple, dict] = {}
    for trade in trades:
        key = (trade.bot_id, trade.exchange, trade.symbol)
        trip = open_trips.get(key)
        if trip is None:
            trip = open_trips[key] = _round_trip(trade)
        trip["trades"] += 1
        trip["_fees"] += trade.fee
        trip["_pnl"] += trade.profit_loss
        if trade.side == "buy":
            trip["entry_at"] = trip["entry_at"] or trade.created_at
            trip["_bought"] += trade.amount
            trip["_buy_cost"] += trade.amount * trade.price
            trip["_open"] += trade.amount
            continue
        trip["exit_at"] = trade.created_at
        trip["_sold"] += trade.amount
        trip["_sell_value"] += trade.amount * trade.price
        trip["_open"] -= min(trade.amount, trip["_open"])
        if trip["_open"] <= 0:
            trip["status"] = "closed"
            done.append(_finish(open_trips.pop(key)))
    done.extend(_finish(trip) for trip in open_trips.values())
    done.sort(key=lambda pair: (pair[0], pair[1]["id"]))
    return done


def pair_round_trips(trades: Iterable[Trade]) -> list[dict]:
    """Round trips of ``trades`` (given oldest first), by when they began, oldest first. Each: id (its first trade's),
    bot_id, bot_name, exchange, symbol, status ("open" or "closed"), entry_at, entry_price (average of the buys),
    amount (bought), exit_at (closed only), last_exit_at, exit_price (average of the sells), exit_amount, cost (entry
    price x amount), fees, profit_loss (the sum of its trades' realised P&L, fees included), profit_pct (of cost),
    duration_seconds (closed only), trades (how many). A sell with nothing open is a round trip of its own with no
    entry."""
    return [trip for _began, trip in _pair(trades)]


def round_trips(
    user: Any,
    *,
    bot_id: Any = None,
    symbol: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    status: str | None = None,
) -> list[dict]:
    """The user's round trips (optionally of one bot, one symbol, ``status``, begun in [start, end)), newest first.
    Trades are paired over their whole history first, then filtered, so a date range never cuts a round trip."""
    trades = filtered_trades(user, bot_id=bot_id, symbol=symbol).order_by("created_at", "id")
    return [
        trip
        for began, trip in reversed(_pair(trades.iterator(chunk_size=2000)))
        if (status is None or trip["status"] == status)
        and (start is None or began >= start)
        and (end is None or began < end)
    ]


def round_trips_page(user: Any, *, offset: int = 0, limit: int = 100, **filters: Any) -> tuple[list[dict], int]:
    """One page of ``round_trips`` (newest entry first) and how many match in all."""
    trips = round_trips(user, **filters)
    return trips[offset : offset + limit], len(trips)


def orders_page(user: Any, *, status: str | None = None, limit: int = 100) -> tuple[list[Order], int]:
    """The user's orders, newest first, and how many there are in all (optionally in one status)."""
    orders = Order.objects.owned_by(user)
    if status:
        orders = orders.filter(status=status)
    return list(orders.order_by("-created_at")[:limit]), orders.count()
