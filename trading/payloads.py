"""Response shapes of the trading app (API, events, assistant)."""

from decimal import Decimal

from amarktai.utils import iso, money
from trading.models import Order, Position, Trade


def trade_payload(trade: Trade) -> dict:
    return {
        "id": str(trade.id),
        "bot_id": str(trade.bot_id) if trade.bot_id else None,
        "account_id": str(trade.account_id) if trade.account_id else None,
        "exchange": trade.exchange,
        "symbol": trade.symbol,
        "side": trade.side,
        "amount": money(trade.amount),
        "price": money(trade.price),
        "fee": money(trade.fee),
        "fee_currency": trade.fee_currency,
        "cost": money(trade.price * trade.amount, 8),
        "profit_loss": money(trade.profit_loss),
        "is_paper": trade.is_paper,
        "price_source": trade.price_source or None,
        "timestamp": iso(trade.created_at),
    }


def order_payload(order: Order, children: list[Order] | None = None) -> dict:
    """An order; with ``children`` (the orders it was split into, e.g. at a broker's freeze quantity) their payloads."""
    payload = {
        "id": str(order.id),
        "bot_id": str(order.bot_id) if order.bot_id else None,
        "parent_id": str(order.parent_id) if order.parent_id else None,
        "account_id": str(order.account_id) if order.account_id else None,
        "exchange": order.exchange,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "amount": money(order.amount),
        "price": money(order.price),
        "stop_price": money(order.stop_price),
        "time_in_force": order.time_in_force,
        "product": order.product or None,
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
    if children:
        payload["children"] = [order_payload(child) for child in children]
    return payload


def trade_list_payload(trade: Trade) -> dict:
    """A trade in GET /api/trades: as in the events, plus its bot's name (``bot_name``) and why its order was placed
    (``reason``: the strategy's signal, "manual exit", or which exit of the exit plan fired and "engine-side"), both
    annotated by the selector."""
    return {
        **trade_payload(trade),
        "bot_name": getattr(trade, "bot_name", None),
        "reason": getattr(trade, "reason", ""),
    }


def trade_list_row_payload(row: dict) -> dict:
    """trade_list_payload of a row of trading.selectors.TRADE_LIST_FIELDS (GET /api/trades reads plain rows): the same
    keys, in the same order, with the same values (tests/trading/test_trade_rows.py compares the two)."""
    bot_id, account_id, amount, price = row["bot_id"], row["account_id"], row["amount"], row["price"]
    return {
        "id": str(row["id"]),
        "bot_id": str(bot_id) if bot_id else None,
        "account_id": str(account_id) if account_id else None,
        "exchange": row["exchange"],
        "symbol": row["symbol"],
        "side": row["side"],
        "amount": money(amount),
        "price": money(price),
        "fee": money(row["fee"]),
        "fee_currency": row["fee_currency"],
        "cost": money(price * amount, 8),
        "profit_loss": money(row["profit_loss"]),
        "is_paper": row["is_paper"],
        "price_source": row["price_source"] or None,
        "timestamp": iso(row["created_at"]),
        "bot_name": row["bot_name"],
        "reason": row["reason"],
    }


CSV_COLUMNS = [
    "timestamp",
    "id",
    "bot_id",
    "bot_name",
    "exchange",
    "symbol",
    "side",
    "amount",
    "price",
    "cost",
    "fee",
    "fee_currency",
    "profit_loss",
    "is_paper",
    "price_source",
]


def trade_csv_row(trade: Trade) -> list:
    """One CSV row (CSV_COLUMNS) of a trade: exact decimals, and no realised P&L (empty) on a buy."""
    return [
        iso(trade.created_at),
        str(trade.id),
        str(trade.bot_id) if trade.bot_id else "",
        getattr(trade, "bot_name", None) or "",
        trade.exchange,
        trade.symbol,
        trade.side,
        _plain(trade.amount),
        _plain(trade.price),
        _plain((trade.price * trade.amount).quantize(CENT_OF_CENT)),
        _plain(trade.fee),
        trade.fee_currency,
        "" if trade.side == "buy" else _plain(trade.profit_loss),
        "true" if trade.is_paper else "false",
        trade.price_source,
    ]


CENT_OF_CENT = Decimal("0.00000001")


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros ("0.001", "-12.5", "0")."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def position_payload(position: Position) -> dict:
    """A position as it stands (open or closed): what a manual exit answers and the position_update event carries
    (``reason``: "manual exit", "bot deleted", "limits" when its stop loss or take profit changed, ...)."""
    return {
        "id": str(position.id),
        "bot_id": str(position.bot_id) if position.bot_id else None,
        "account_id": str(position.account_id) if position.account_id else None,
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
