"""Read-only queries shared by the trading views, the assistant and the real-time feeds. All scoped to one user."""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from amarktai import keyset
from amarktai.tenancy import access
from amarktai.utils import iso, money
from trading.models import Order, Position, Trade, TradeTally
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


def valued_positions(user: Any, prices: dict | None = None, account: Any = None) -> list[ValuedPosition]:
    """The user's open positions, newest first, each at its current price (one price per market and source);
    ``account``: only those on that trading account (wallets.ExchangeCredential)."""
    from accounts.models import LIVE_MODES
    from trading.exchanges import source_for

    prices = {} if prices is None else prices
    qs = Position.objects.owned_by(user).filter(is_open=True)
    if account is not None:
        qs = qs.filter(account=account)
    rows = list(qs.select_related("bot", "account").order_by("-opened_at"))
    manual_mode = None
    out = []
    for position in rows:
        bot = position.bot
        if position.account is not None:  # on a trading account: the account's own mode
            mode = position.account.trading_mode
        elif bot is not None:
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
        "account_id": str(position.account_id) if position.account_id else None,
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


def positions_report(user: Any, valuation: Valuation | None = None, account: Any = None) -> dict:
    """GET /api/positions (without the envelope): the positions in their own currencies, and their value and
    unrealised P&L converted into the user's base currency (positions with no price are counted in ``no_price`` and
    left out of both)."""
    valuation = valuation or Valuation.for_user(user)
    rows = valued_positions(user, account=account)
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


def order_children(order: Order) -> list[Order]:
    """The orders ``order`` was split into (at a market's maximum or a broker's freeze quantity), oldest first."""
    return list(order.children.order_by("created_at", "client_order_id"))


def children_of(orders: list[Order]) -> dict[str, list[Order]]:
    """The child orders of each of ``orders`` (by parent id, oldest first), in one query: a list of orders shows which
    ones were split and how each part went."""
    found: dict[str, list[Order]] = {}
    parents = [order.pk for order in orders if order.parent_id is None]
    if parents:
        for child in Order.objects.filter(parent_id__in=parents).order_by("created_at", "client_order_id"):
            found.setdefault(str(child.parent_id), []).append(child)
    return found


def access_position(user: Any, position_id: Any, *, lock: bool = False) -> Position:
    """One of the user's positions (open or closed); 404 for a missing or another user's position alike."""
    return access(Position.objects, user, position_id, "Position", lock=lock)


def same_book(position: Position) -> Q:
    """Orders of the position's book: its bot's, or the user's own (no bot) for a manual position; on its account."""
    book = Q(bot__isnull=True) if position.bot_id is None else Q(bot_id=position.bot_id)
    return book & Q(account_id=position.account_id)


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
    annotated with ``bot_name`` and ``reason`` (its order's). Another user's bot id matches nothing."""
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
    return trades.annotate(bot_name=F("bot__name"), reason=F("order__reason")).order_by("-created_at", "-id")


TRADE_LIST_FIELDS = (
    "id",
    "bot_id",
    "account_id",
    "exchange",
    "symbol",
    "side",
    "amount",
    "price",
    "fee",
    "fee_currency",
    "profit_loss",
    "is_paper",
    "price_source",
    "created_at",
    "bot_name",
    "reason",
)


def trades_page(
    user: Any,
    *,
    offset: int = 0,
    limit: int = 100,
    cursor: tuple[datetime, Any] | None = None,
    **filters: Any,
) -> tuple[list[dict], int, str | None]:
    """One page of the user's trades (rows of TRADE_LIST_FIELDS), newest first, how many match in all (filters as
    ``filtered_trades``) and the cursor of the next page (None on the last one). ``cursor`` (a position from
    ``amarktai.keyset.decode``) continues after an earlier page at the cost of the first page however deep it is;
    ``offset`` still works, but reads and discards every row before it."""
    trades = filtered_trades(user, **filters)
    rows = keyset.after(trades, cursor) if cursor is not None else trades
    # Plain rows, not models: building 51 Trade instances (field converters, foreign-key descriptors) was most of the
    # request's Python time (bench/profile_api.py --trades); trading.payloads.trade_list_row_payload shapes them. The
    # count from the tallies comes in the same statement (an uncorrelated subquery, computed once): one round trip.
    counted = _tallies(user, **filters)
    if counted is not None:
        tallies, column = counted
        total_of = tallies.order_by().values("user_id").annotate(n=Sum(column)).values("n")[:1]
        rows = rows.values(*TRADE_LIST_FIELDS, matching_total=Subquery(total_of))
    else:
        rows = rows.values(*TRADE_LIST_FIELDS)
    page, next_cursor = keyset.page(rows[offset:] if offset and cursor is None else rows, limit)
    if counted is None:
        return page, trades.count(), next_cursor
    if page:
        return page, int(page[0]["matching_total"] or 0), next_cursor
    return page, trade_total(user, **filters) or 0, next_cursor  # past the end: the count alone


def _tallies(
    user: Any, *, bot_id: Any = None, symbol: str | None = None, side: str | None = None, **dated: Any
) -> tuple[QuerySet, str] | None:
    """The tally rows counting the user's trades that match, and the column to add up; None when a date filter asks
    for a count of the trades themselves."""
    if any(value is not None for value in dated.values()):
        return None
    tallies = TradeTally.objects.owned_by(user)
    if bot_id:
        tallies = tallies.filter(bot_id=bot_id)
    if symbol:
        tallies = tallies.filter(symbol=symbol)
    return tallies, {"buy": "buys", "sell": "sells"}.get(side or "", "trades")


def trade_total(user: Any, **filters: Any) -> int | None:
    """How many of the user's trades match, from the running tallies (trading.tallies: a handful of rows however many
    trades), or None when a date filter asks for a count of the trades themselves."""
    counted = _tallies(user, **filters)
    if counted is None:
        return None
    tallies, column = counted
    return int(tallies.aggregate(n=Sum(column))["n"] or 0)


def trade_tally_totals(user: Any) -> dict[str, Any]:
    """The user's closed sells and wins (all books) and the realised P&L of the trades without a bot (their own, and
    those of deleted bots) per symbol: {"closed", "wins", "own_pnl": [{"symbol", "p"}]}, from the tallies."""
    rows = list(
        TradeTally.objects.owned_by(user).values("bot_id", "symbol", "closed", "wins", "realised_pnl").order_by()
    )
    return {
        "closed": sum(r["closed"] for r in rows),
        "wins": sum(r["wins"] for r in rows),
        "own_pnl": [{"symbol": r["symbol"], "p": r["realised_pnl"]} for r in rows if r["bot_id"] is None],
    }


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


def orders_page(
    user: Any, *, status: str | None = None, limit: int = 100, account: Any = None
) -> tuple[list[Order], int]:
    """The user's orders, newest first, and how many there are in all (optionally in one status); ``account``: only
    the orders placed on that trading account (top-level ones: their split parts come as children)."""
    orders = Order.objects.owned_by(user)
    if account is not None:
        orders = orders.filter(account=account, parent__isnull=True)
    if status:
        orders = orders.filter(status=status)
    return list(orders.order_by("-created_at")[:limit]), orders.count()


def realised_by_currency(user: Any, account: Any, since: datetime | None = None) -> dict[str, Decimal]:
    """The realised P&L of the trades on one trading account (optionally since ``since``), by quote currency."""
    trades = Trade.objects.owned_by(user).filter(account=account)
    if since is not None:
        trades = trades.filter(created_at__gte=since)
    out: dict[str, Decimal] = {}
    for symbol, total in trades.values_list("symbol").annotate(total=Sum("profit_loss")).order_by("symbol"):
        currency = quote_of(symbol)
        out[currency] = out.get(currency, ZERO) + (total or ZERO)
    return out
