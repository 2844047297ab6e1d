"""Running totals of the trades (trading.models.TradeTally): counted as each Trade row is written, read by
/api/metrics (win rate, the user's own realised P&L) and by the trade list's ``total``, so neither counts a user's
whole history on every request however many trades pile up.

Every Trade row written through save() (``Trade.objects.create`` in trading.services.record_fill, and anywhere else)
is counted by a post_save receiver (connected in TradingConfig.ready()), inside the same transaction as the trade: a
rolled-back fill leaves no count behind. ``bulk_create`` skips save(): whoever bulk-inserts trades (the scale seeder)
calls ``rebuild`` afterwards, as ``manage.py rebuild_trade_tallies`` does.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum

from trading.models import Trade, TradeTally

ZERO = Decimal("0")


def book_of(bot_id: Any, symbol: str) -> str:
    """The tally key of a trade: its bot and symbol, or the user's own trades of that symbol."""
    if bot_id:
        hex_id = bot_id.hex if hasattr(bot_id, "hex") else str(bot_id).replace("-", "")
        return f"bot:{hex_id}:{symbol}"
    return f"own:{symbol}"


def _deltas(trade: Trade) -> dict[str, int | Decimal]:
    sell = trade.side == "sell"
    pnl = trade.profit_loss or ZERO
    return {
        "trades": 1,
        "buys": 0 if sell else 1,
        "sells": 1 if sell else 0,
        "closed": 1 if sell and pnl != 0 else 0,
        "wins": 1 if sell and pnl > 0 else 0,
        "realised_pnl": pnl,
    }


def count_trade(trade: Trade) -> None:
    """Add one new trade to its book's tally: one UPDATE in the common case, an INSERT for a book's first trade."""
    deltas = _deltas(trade)
    book = book_of(trade.bot_id, trade.symbol)
    increments = {field: F(field) + value for field, value in deltas.items() if value}
    rows = TradeTally.objects.filter(user_id=trade.user_id, book=book)
    if rows.update(**increments):
        return
    try:
        with transaction.atomic():  # a savepoint: a concurrent first trade of the same book may win the insert
            TradeTally.objects.create(
                user_id=trade.user_id, bot_id=trade.bot_id, book=book, symbol=trade.symbol, **deltas
            )
    except IntegrityError:
        rows.update(**increments)


def on_trade_saved(sender: type, instance: Trade, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        count_trade(instance)


def connect_signals() -> None:
    from django.db.models.signals import post_save

    post_save.connect(on_trade_saved, sender=Trade, dispatch_uid="trading-trade-tally")


def recount(trade_model: Any = Trade, user_ids: Iterable[Any] | None = None) -> dict[tuple[Any, str], dict[str, Any]]:
    """The tallies as counted afresh from the trades: {(user_id, book): {bot_id, symbol, trades, buys, ...}}. Takes
    the model as an argument so the data migration can call it with its historical model."""
    trades = trade_model.objects.all()
    if user_ids is not None:
        trades = trades.filter(user_id__in=list(user_ids))
    sell = Q(side="sell")
    rows = (
        trades.values("user_id", "bot_id", "symbol")
        .annotate(
            n=Count("id"),
            n_sells=Count("id", filter=sell),
            n_closed=Count("id", filter=sell & ~Q(profit_loss=0)),
            n_wins=Count("id", filter=sell & Q(profit_loss__gt=0)),
            pnl=Sum("profit_loss"),
        )
        .order_by()  # no default ordering in the GROUP BY
    )
    out: dict[tuple[Any, str], dict[str, Any]] = {}
    for row in rows.iterator(chunk_size=5000):
        out[(row["user_id"], book_of(row["bot_id"], row["symbol"]))] = {
            "bot_id": row["bot_id"],
            "symbol": row["symbol"],
            "trades": row["n"],
            "buys": row["n"] - row["n_sells"],
            "sells": row["n_sells"],
            "closed": row["n_closed"],
            "wins": row["n_wins"],
            "realised_pnl": row["pnl"] or ZERO,
        }
    return out


def rebuild(user_ids: Iterable[Any] | None = None, *, trade_model: Any = Trade, tally_model: Any = TradeTally) -> int:
    """Replace the tallies (of ``user_ids``, else everyone's) by a recount of the trades; returns how many rows were
    written. The trades of a deleted bot (bot now null) are counted under the user's own book of their symbol, and so
    are that bot's old tally rows dropped: the figures read from them (sums per user, per symbol) are the same.
    Run it while no trades are being recorded for those users (a fill counted between the recount and the write would
    be lost until the next rebuild)."""
    ids = None if user_ids is None else list(user_ids)
    counted = recount(trade_model, ids)
    with transaction.atomic():
        stale = tally_model.objects.all()
        if ids is not None:
            stale = stale.filter(user_id__in=ids)
        stale.delete()
        tally_model.objects.bulk_create(
            [tally_model(user_id=user_id, book=book, **figures) for (user_id, book), figures in counted.items()],
            batch_size=2000,
        )
    return len(counted)
