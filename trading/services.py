"""Orders, fills, positions and P&L. Every placement goes through place_order(); every fill through record_fill().

Exactly-once: an Order row with a unique client_order_id is written before the exchange is asked, inside the caller's
transaction; a retried or duplicated request finds the row and places nothing. P&L uses Decimal, fees included:
a buy opens (or adds to) a position at its average price with its fee carried; a sell realises
proceeds - sell fee - (entry price x amount + the matching share of entry fees). The bot's capital and profit change in
the same transaction as the trade.
"""

import hashlib
import logging
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import LIVE_MODES
from amarktai.errors import Conflict, NotFound, ValidationFailed
from realtime import events
from realtime.metrics import ORDERS
from trading import fillmodel, fills, system
from trading.exchanges import get_exchange, market_data
from trading.exchanges.base import Exchange, OrderOptions, round_to_step
from trading.exchanges.paper import PaperExchange
from trading.models import Order, OrderStatus, Position, Trade
from trading.payloads import order_payload, trade_payload
from trading.platforms import get_platform
from trading.selectors import access_order

logger = logging.getLogger(__name__)
ZERO = Decimal("0")
STEP = Decimal("0.00000001")


def client_order_id(*parts: object) -> str:
    """A deterministic id (<= 40 chars) from the parts, e.g. (bot id, signal candle time, side)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"amk-{digest}"


# --- placement ---------------------------------------------------------------------------------------------
def _split(amount: Decimal, max_amount: Decimal) -> list[Decimal]:
    """Child amounts, each <= max_amount, summing to amount."""
    parts = []
    remaining = amount
    while remaining > 0:
        part = min(remaining, max_amount)
        parts.append(part)
        remaining -= part
    return parts


def place_order(
    user: Any,
    exchange: Exchange,
    *,
    symbol: str,
    side: str,
    type: str,
    amount: Decimal | str,
    price: Decimal | None = None,
    bot: Any = None,
    cid: str | None = None,
    reason: str = "",
    is_paper: bool = True,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    options: OrderOptions | None = None,
) -> Order:
    """Place an order through ``exchange`` (any Exchange). Returns the Order (the parent when split). ``options``
    (product, time in force, stop price) go to the exchange with every child and are kept on the Order.

    Must run inside a transaction (the caller's, e.g. with the bot row locked). A client order id that already exists
    returns the existing order without placing anything.
    """
    cid = cid or client_order_id(user.pk, timezone.now().timestamp(), symbol, side, amount)
    existing = Order.objects.filter(client_order_id=cid).first()
    if existing is not None:
        if existing.user_id != user.pk:
            raise ValidationFailed("client order id already used")
        return existing
    system.require_trading_open()  # an admin stopped trading platform-wide: 503 TRADING_HALTED
    market = exchange.load_markets().get(symbol.upper())
    if market is None:
        raise ValidationFailed(f"{exchange.platform_id} has no market {symbol}", details={"symbol": ["unknown market"]})
    amount = Decimal(str(amount)).quantize(STEP, rounding=ROUND_DOWN)
    lot = market.get("lot_size")
    if lot and amount >= lot:  # whole shares or lots: the order is what the exchange will fill (below one lot: refused)
        amount = round_to_step(amount, lot, ROUND_DOWN)
    if amount <= 0:
        raise ValidationFailed("amount must be positive", details={"amount": ["must be > 0"]})
    limit = market.get("max_market_amount") if type == "market" else market.get("max_amount")
    common = {
        "user": user,
        "bot": bot,
        "account": exchange.account,  # the trading account it goes to (None: the default paper book / KeySet)
        "exchange": exchange.platform_id,
        "symbol": market["symbol"],
        "side": side,
        "type": type,
        "price": price,
        "is_paper": is_paper,
        "reason": reason[:255],
        "stop_price": options.stop_price if options else None,
        "time_in_force": options.time_in_force if options else "gtc",
        "product": (options.product or "") if options else "",
    }
    with transaction.atomic():
        try:
            with transaction.atomic():
                parent = Order.objects.create(amount=amount, client_order_id=cid, **common)
        except IntegrityError:
            return Order.objects.get(client_order_id=cid)
        if limit and amount > limit:
            children = [
                Order.objects.create(amount=part, client_order_id=f"{cid[:56]}-{i}", parent=parent, **common)
                for i, part in enumerate(_split(amount, limit))
            ]
            for child in children:
                _send(exchange, child, stop_loss, take_profit, options)
            _roll_up(parent)
        else:
            _send(exchange, parent, stop_loss, take_profit, options)
    return parent


def _send(
    exchange: Exchange,
    order: Order,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    options: OrderOptions | None = None,
) -> None:
    extra = {"options": options} if options is not None and not options.is_default else {}
    result = exchange.create_order(
        order.symbol,
        order.type,
        order.side,
        order.amount,
        price=order.price,
        client_order_id=order.client_order_id,
        **extra,
    )
    order.exchange_order_id = str(result.get("id") or "")
    order.save(update_fields=["exchange_order_id", "updated_at"])
    if result.get("children"):  # the broker split it (OpenAlgo's splitorder): one child order per piece
        _record_children(order, result["children"], stop_loss, take_profit)
    else:
        apply_exchange_state(order, result, stop_loss=stop_loss, take_profit=take_profit, is_new=True)
    ORDERS.labels("paper" if order.is_paper else "live", order.side, order.status).inc()


def _record_children(
    parent: Order, children: list[dict], stop_loss: Decimal | None, take_profit: Decimal | None
) -> None:
    """The orders an exchange split ``parent`` into, each recorded and filled like any order; the parent rolls up."""
    common = {
        f: getattr(parent, f)
        for f in ("user", "bot", "account", "exchange", "symbol", "side", "type", "price", "is_paper")
    }
    for i, result in enumerate(children):
        child = Order.objects.create(
            **common,
            parent=parent,
            amount=Decimal(str(result.get("amount") or 0)),
            client_order_id=f"{parent.client_order_id[:56]}-{i}",
            exchange_order_id=str(result.get("id") or ""),
            reason=(result.get("reason") or parent.reason)[:255],
        )
        apply_exchange_state(child, result, stop_loss=stop_loss, take_profit=take_profit, is_new=True)
    parent.refresh_from_db()


def _roll_up(parent: Order) -> None:
    previous = parent.status
    children = list(parent.children.order_by("created_at", "client_order_id"))
    filled = sum((c.filled for c in children), ZERO)
    cost = sum((c.filled * (c.average or ZERO) for c in children), ZERO)
    parent.filled = filled
    parent.average = (cost / filled).quantize(STEP) if filled else None
    parent.fee = sum((c.fee for c in children), ZERO)
    parent.fee_currency = children[0].fee_currency if children else ""
    statuses = {c.status for c in children}
    finished = {OrderStatus.CLOSED, OrderStatus.CANCELED, OrderStatus.REJECTED}
    if not statuses <= finished:
        parent.status = OrderStatus.OPEN  # a part still works at the exchange
    elif OrderStatus.CLOSED in statuses:
        # Done, with at least one part filled: what filled is in ``filled``; the parts say which failed and why.
        parent.status = OrderStatus.CLOSED
    else:
        parent.status = OrderStatus.CANCELED if OrderStatus.CANCELED in statuses else OrderStatus.REJECTED
    parent.save(update_fields=["filled", "average", "fee", "fee_currency", "status", "updated_at"])
    events.publish(
        parent.user_id,
        events.ORDER_UPDATE,
        {"order": order_payload(parent, children=children), "previous_status": previous},
    )


def order_change(order: Order, is_new: bool = False) -> str:
    """What an order_update says happened: "placed", "filled", "partially_filled" (open with a part filled),
    "canceled", "rejected" or "updated"."""
    if order.status == OrderStatus.CLOSED:
        return "filled"
    if order.status in (OrderStatus.CANCELED, OrderStatus.REJECTED):
        return str(order.status)
    if order.filled > 0:
        return "partially_filled"
    return "placed" if is_new else "updated"


def apply_exchange_state(
    order: Order,
    result: dict,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    is_new: bool = False,
) -> Order:
    """Bring ``order`` in line with the exchange's view of it; record any new fill as a Trade. Publishes order_update
    with the transition (``previous_status``: None for an order just sent) when the status or the fill changed."""
    previous = None if is_new else order.status
    new_filled = Decimal(str(result.get("filled") or 0))
    increment = new_filled - order.filled
    status = result.get("status") or order.status
    if status not in OrderStatus.values:
        status = OrderStatus.OPEN
    if increment > 0:
        fee = Decimal(str((result.get("fee") or {}).get("cost") or 0))
        record_fill(
            order,
            increment,
            Decimal(str(result.get("average") or result.get("price"))),
            fee - order.fee,
            (result.get("fee") or {}).get("currency") or "",
            stop_loss=stop_loss,
            take_profit=take_profit,
            price_source=result.get("price_source") or "",
        )
        order.filled = new_filled
        order.average = Decimal(str(result.get("average") or result.get("price")))
        order.fee = fee
        order.fee_currency = (result.get("fee") or {}).get("currency") or ""
    changed = is_new or order.status != status or increment > 0
    order.status = status
    order.save(update_fields=["filled", "average", "fee", "fee_currency", "status", "updated_at"])
    if changed:
        events.publish(
            order.user_id,
            events.ORDER_UPDATE,
            {"order": order_payload(order), "previous_status": previous, "change": order_change(order, is_new)},
        )
    if order.parent is not None:
        _roll_up(order.parent)
    return order


def record_fill(
    order: Order,
    amount: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_currency: str,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    price_source: str = "",
) -> Trade:
    """A fill of ``amount`` at ``price``: the Trade and the position, atomically, then every fill listener (the bots
    app books the bot's P&L) in the same transaction."""
    with transaction.atomic():
        fills.before_fill(order)  # listeners lock what they will change (the bot row) before the position rows
        positions = Position.objects.select_for_update().filter(
            user_id=order.user_id,
            account_id=order.account_id,
            exchange=order.exchange,
            symbol=order.symbol,
            is_open=True,
        )
        position = (
            positions.filter(bot_id=order.bot_id).first()
            if order.bot_id
            else positions.filter(bot__isnull=True).first()
        )
        profit = ZERO
        if order.side == "buy":
            if position is None:
                position = Position.objects.create(
                    user_id=order.user_id,
                    bot_id=order.bot_id,
                    account_id=order.account_id,
                    exchange=order.exchange,
                    symbol=order.symbol,
                    amount=amount,
                    entry_price=price,
                    entry_fee=fee,
                    stop_loss=stop_loss,
                    take_profit=take_profit,
                )
            else:
                position.entry_price = fillmodel.average_entry(position.entry_price, position.amount, price, amount)
                position.amount += amount
                position.entry_fee += fee
                position.save(update_fields=["entry_price", "amount", "entry_fee"])
        elif position is not None:
            closing = min(amount, position.amount)
            profit, fee_share = fillmodel.close_profit(
                position.entry_price, position.entry_fee, position.amount, closing, price, fee
            )
            position.amount -= closing
            position.entry_fee -= fee_share
            position.realised_pnl += profit
            if position.amount <= 0:
                position.is_open = False
                position.closed_at = timezone.now()
            position.save(update_fields=["amount", "entry_fee", "realised_pnl", "is_open", "closed_at"])
        trade = Trade.objects.create(
            user_id=order.user_id,
            bot_id=order.bot_id,
            account_id=order.account_id,
            order=order,
            exchange=order.exchange,
            symbol=order.symbol,
            side=order.side,
            amount=amount,
            price=price,
            fee=fee,
            fee_currency=fee_currency,
            profit_loss=profit,
            is_paper=order.is_paper,
            price_source=price_source,
        )
        payload = trade_payload(trade)
        events.publish(order.user_id, events.TRADE_EXECUTED, {"trade": {**payload, "profit": payload["profit_loss"]}})
        events.publish(order.user_id, events.TRADE_UPDATE, {"trades": [payload]})
        fills.after_fill(trade)
    return trade


def sync_order(order: Order, exchange: Exchange) -> Order:
    """Poll the exchange for one open order and apply what changed. Orders that never reached the exchange (a crash
    between writing the row and sending) are looked up by client order id, else rejected."""
    try:
        result = exchange.fetch_order(order.exchange_order_id or order.client_order_id, order.symbol)
    except NotFound:
        age = (timezone.now() - order.created_at).total_seconds()
        if not order.exchange_order_id and age > 60:
            previous = order.status
            order.status = OrderStatus.REJECTED
            order.reason = (order.reason + " | never reached the exchange")[:255]
            order.save(update_fields=["status", "reason", "updated_at"])
            events.publish(
                order.user_id, events.ORDER_UPDATE, {"order": order_payload(order), "previous_status": previous}
            )
        return order
    return apply_polled_state(order, result)


def apply_polled_state(order: Order, result: dict) -> Order:
    """Apply the exchange's view of ``order`` (a fetch_order or fetch_open_orders row) under the order's row lock:
    an order another worker already finished is left alone; fills are booked once (apply_exchange_state)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.OPEN:
            return order
        if not order.exchange_order_id and result.get("id"):
            order.exchange_order_id = str(result["id"])
        return apply_exchange_state(order, result)


def cancel_order(order: Order, exchange: Exchange) -> Order:
    if order.status != OrderStatus.OPEN:
        raise ValidationFailed(f"Only open orders can be cancelled (this one is {order.status})")
    targets = list(order.children.filter(status=OrderStatus.OPEN)) or [order]
    for target in targets:
        result = exchange.cancel_order(target.exchange_order_id or target.client_order_id, target.symbol)
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=target.pk)
            apply_exchange_state(locked, result)
    order.refresh_from_db()
    return order


def _user_exchange(user: Any, exchange_id: str, is_paper: bool) -> Exchange:
    return get_exchange(user, exchange_id, "paper" if is_paper else "live")


def order_exchange(order: Order) -> Exchange:
    """The exchange an existing order lives on: its trading account's (Order.account) when it has one, else the
    user's default paper book or live keys of the platform."""
    return get_exchange(order.user, order.exchange, "paper" if order.is_paper else "live", credential=order.account)


def user_client_order_id(user: Any, client_id: str) -> str:
    """The stored (and exchange-facing) client order id of a user-supplied one: derived from the user's id and theirs,
    so each user has a namespace of their own. Two users may use the same id; neither can find out whether the other
    did (the stored ids differ), and the id sent to the exchange is the same on every retry."""
    return client_order_id("user", user.pk, client_id)


def _same_order(order: Order, **asked: Any) -> bool:
    """Whether an existing order is the one these parameters ask for (a retry, not a new order under an old id)."""
    amount = Decimal(str(asked["amount"])).quantize(STEP, rounding=ROUND_DOWN)
    price = asked["price"]
    stop = asked.get("stop_price")
    return (
        (order.stop_price is None if stop is None else order.stop_price == Decimal(str(stop)))
        and order.time_in_force == asked.get("time_in_force", "gtc")
        and order.product == (asked.get("product") or "")
        and order.exchange == asked["exchange"]
        and order.symbol == str(asked["symbol"]).upper()
        and order.side == asked["side"]
        and order.type == asked["type"]
        and order.amount == amount
        and (order.price is None if price is None else order.price is not None and order.price == Decimal(str(price)))
    )


def manual_order(
    user: Any,
    *,
    exchange: str,
    symbol: str,
    side: str,
    type: str = "market",
    amount: Decimal,
    price: Decimal | None = None,
    client_order_id: str | None = None,
    product: str | None = None,
    time_in_force: str = "gtc",
    stop_price: Decimal | None = None,
    account: Any = None,
) -> Order:
    """A user's own order: paper in testing mode, live (stored keys) in the live modes; or, with ``account`` (one of
    the user's trading accounts, wallets.ExchangeCredential), on that account: a paper account's own paper book, a
    live account's keys (only in the live modes). ``product``,
    ``time_in_force`` and ``stop_price`` are the order's options (trading.exchanges.base.OrderOptions; stop and
    stop_limit orders need a stop price).

    ``client_order_id`` (the client's own id, optional) makes the placement safe to retry: the same id again returns
    the order placed the first time, never a second one; the same id with different parameters raises Conflict."""
    if type in ("limit", "stop_limit") and price is None:
        raise ValidationFailed(f"a {type} order needs a price", details={"price": ["required"]})
    if type in ("stop", "stop_limit") and stop_price is None:
        raise ValidationFailed(f"a {type} order needs a stop_price", details={"stop_price": ["required"]})
    is_paper = user.system_mode not in LIVE_MODES
    if account is not None:
        if account.user_id != user.pk:
            raise NotFound("Account not found")
        exchange = account.platform
        if not account.is_paper and is_paper:
            raise ValidationFailed(
                "This is a live account: switch the system mode to live to trade on it",
                details={"account_id": ["live account while in testing mode"]},
            )
        is_paper = account.is_paper
    price = None if type in ("market", "stop") else price
    stop_price = stop_price if type in ("stop", "stop_limit") else None
    options = OrderOptions(product=product, time_in_force=time_in_force, stop_price=stop_price)
    asked_options = {"stop_price": stop_price, "time_in_force": time_in_force, "product": product}
    cid = None
    if client_order_id:
        cid = user_client_order_id(user, client_order_id)
        existing = Order.objects.owned_by(user).filter(client_order_id=cid).first()
        if existing is not None:
            platform = get_platform(exchange)
            platform_id = platform.id if platform is not None else exchange
            if existing.account_id != (account.pk if account is not None else None) or not _same_order(
                existing,
                exchange=platform_id,
                symbol=symbol,
                side=side,
                type=type,
                amount=amount,
                price=price,
                **asked_options,
            ):
                raise Conflict(
                    "client_order_id was already used for a different order",
                    details={"client_order_id": ["already used for a different order"]},
                )
            return existing
    target = (
        _user_exchange(user, exchange, is_paper)
        if account is None
        else get_exchange(user, exchange, "paper" if is_paper else "live", credential=account)
    )
    order = place_order(
        user,
        target,
        symbol=symbol,
        side=side,
        type=type,
        amount=amount,
        price=price,
        cid=cid,
        is_paper=is_paper,
        reason="manual order",
        options=options,
    )
    if cid is not None and not _same_order(
        order,
        exchange=target.platform_id,
        symbol=symbol,
        side=side,
        type=type,
        amount=amount,
        price=price,
        **asked_options,
    ):
        # A concurrent request placed a different order under the same id first.
        raise Conflict(
            "client_order_id was already used for a different order",
            details={"client_order_id": ["already used for a different order"]},
        )
    return order


# --- funds held for transfers (called by the wallets app) ---------------------------------------------------
def _paper(user: Any, platform_id: str) -> PaperExchange:
    return PaperExchange(user, platform_id, feed=market_data(platform_id))


def hold_paper_funds(user: Any, platform_id: str, currency: str, amount: Decimal, keep_free: Decimal = ZERO) -> None:
    """Set ``amount`` of ``currency`` aside on the user's paper account (free -> used), under the row lock the paper
    exchange's fills take, so no order can spend it. Raises InsufficientFunds unless free covers it (and ``keep_free``
    besides)."""
    _paper(user, platform_id).hold(currency, amount, keep_free=keep_free)


def release_paper_funds(user: Any, platform_id: str, currency: str, amount: Decimal) -> None:
    """Give held funds back (used -> free): the transfer was canceled or failed."""
    _paper(user, platform_id).release_hold(currency, amount)


def send_paper_funds(user: Any, from_platform: str, to_platform: str, currency: str, amount: Decimal) -> None:
    """A completed paper transfer: the held amount leaves ``from_platform`` and arrives free on ``to_platform``."""
    _paper(user, from_platform).send_held(currency, amount, to=_paper(user, to_platform))


def open_paper_account(user: Any, account: Any, starting_balance: Decimal | None = None) -> dict:
    """Give a new paper trading account (wallets.ExchangeCredential, trading_mode "paper") its starting balance in
    the platform's quote currency (``starting_balance``, else PAPER_STARTING_BALANCES) and return its balances."""
    exchange = get_exchange(user, account.platform, "paper", credential=account)
    if starting_balance is not None:
        exchange.fund(starting_balance)
    return exchange.fetch_balance()


def cancel_user_order(user: Any, order_id: Any) -> Order:
    order = access_order(user, order_id)
    return cancel_order(order, order_exchange(order))


def modify_user_order(user: Any, order_id: Any, amount: Decimal | None = None, price: Decimal | None = None) -> Order:
    """Change an open limit order: cancel it and place a replacement with the new amount/price."""
    order = access_order(user, order_id)
    if order.type != "limit":
        raise ValidationFailed("Only open limit orders can be modified")
    if amount is None and price is None:
        raise ValidationFailed("Give a new amount or price", details={"amount": ["required"], "price": ["required"]})
    exchange = order_exchange(order)
    with transaction.atomic():
        order = cancel_order(order, exchange)
        remaining = amount if amount is not None else order.amount - order.filled
        return place_order(
            user,
            exchange,
            symbol=order.symbol,
            side=order.side,
            type="limit",
            amount=remaining,
            price=price if price is not None else order.price,
            bot=order.bot,
            is_paper=order.is_paper,
            reason=f"replaces {order.id}",
        )


def sync_open_orders(limit: int = 500) -> int:
    """Poll the paper exchange for up to ``limit`` open paper orders, least recently updated first; one order's failure
    never stops the others. Returns how many were synced. Live orders are the order-status poller's (trading.poller:
    per account, in batches, within the exchanges' rate limits, backing off per account)."""
    synced = 0
    orders = (
        Order.objects.filter(status=OrderStatus.OPEN, children__isnull=True, is_paper=True)
        .select_related("user", "bot", "account")
        .order_by("updated_at")[:limit]
    )
    for order in orders:
        try:
            sync_order(order, order_exchange(order))
            synced += 1
        except Exception:
            logger.warning("could not sync order %s", order.pk, exc_info=True)
    return synced
