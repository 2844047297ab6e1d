"""The paper exchange: the Exchange interface over simulated balances, so a bot cannot tell paper from live.

- Balances per user, platform and currency (trading.PaperBalance), created on first use from PAPER_STARTING_BALANCES in
  the platform's quote currency. They never go negative: an order that needs more raises InsufficientFunds.
- Market orders fill at once against a synthetic order book: the average price walks the book, so slippage grows with
  the order's size; taker fees per platform.
- Limit orders that cross the book fill at once (never worse than the limit); others rest, with their funds reserved
  ("used"), and fill at the limit price with the maker fee once the market crosses it (``match_open_orders``, called by
  fetch_order / fetch_open_orders and by the bot engine every tick).
- Transfers requested out of a paper account hold their amount in "used" too (``hold`` / ``release_hold`` /
  ``send_held``, called through trading.services by the wallets app), so an order can never spend money that is
  pending out.
- Stop orders rest (funds reserved at the stop price, or a stop_limit's limit) until the last price reaches the stop: a
  buy stop at or above it, a sell stop at or below it. A stop then fills like a market order; a stop_limit rests as a
  limit order at its price (filling at once when the book already crosses it).
- Stock markets (trading.sessions) trade only during their session: while the market is closed nothing fills; every
  order (market orders too) rests with its funds reserved and fills at the first price after the open (a market buy
  whose reservation no longer covers the opening price is rejected). An ioc order is refused while the market is
  closed. Amounts are whole shares (or lots: the market's ``lot_size``).
- Time in force: gtc rests until canceled; day is canceled at the session's close (around-the-clock markets: at
  midnight UTC); ioc cancels a limit order that does not fill at once.
- ``client_order_id`` makes create_order idempotent: the same id twice returns the first order, never a second fill.
- Balance rows are locked (SELECT ... FOR UPDATE, in a fixed order) for every change, so concurrent orders cannot
  overspend.
"""

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import User
from amarktai.errors import InsufficientFunds, NotFound, ValidationFailed
from amarktai.utils import money
from trading import fillmodel, sessions
from trading.exchanges import simfeed
from trading.exchanges.base import Exchange, Number, OrderOptions
from trading.fillmodel import DEPTH_USD_PER_PCT, FEES  # noqa: F401 - re-exported
from trading.models import PaperBalance, PaperOrder
from trading.platforms import get_platform

ZERO = Decimal("0")
AMOUNT_STEP = Decimal("0.00000001")

# Smallest order and largest single market order (freeze quantity) per base asset.
MIN_AMOUNT = {"BTC": "0.0001", "ETH": "0.001", "SOL": "0.01", "XRP": "1", "BNB": "0.001"}
MAX_MARKET_AMOUNT = {"BTC": "5", "ETH": "100", "SOL": "2000", "XRP": "500000", "BNB": "500"}
MIN_COST_USD = Decimal("1")
# Stocks: the largest single market order in shares: the exchange's freeze quantity (trading.sessions.FREEZE_QUANTITY,
# NIFTY: 1800 units of the index, 24 lots of 75), else this.
STOCK_DEFAULT_MAX_MARKET_AMOUNT = "100000"


def price_step(price):
    return Decimal(1).scaleb(-simfeed._decimals(float(price)))


def market_info(symbol):
    base, quote = simfeed.split_symbol(symbol)
    reference = Decimal(str(simfeed.ASSETS[base][0] * simfeed.QUOTES_PER_USD[quote]))
    lot = sessions.lot_size(base)
    if lot:  # a stock: whole shares or lots
        max_market = sessions.freeze_quantity(base) or Decimal(STOCK_DEFAULT_MAX_MARKET_AMOUNT)
        step, min_amount = lot, lot
    else:
        max_market, step, min_amount = Decimal(MAX_MARKET_AMOUNT[base]), AMOUNT_STEP, Decimal(MIN_AMOUNT[base])
    return {
        "symbol": f"{base}/{quote}",
        "base": base,
        "quote": quote,
        "amount_precision": step,
        "price_precision": price_step(reference),
        "min_amount": min_amount,
        "max_amount": max_market * 10,
        "max_market_amount": max_market,
        "min_cost": MIN_COST_USD * Decimal(str(simfeed.QUOTES_PER_USD[quote])),
        "lot_size": lot,
    }


def order_dict(order: PaperOrder, price_source: str) -> dict:
    """The Exchange interface's order shape; ``price_source`` says which feed priced its fills."""
    return {
        "id": str(order.id),
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "type": order.type,
        "side": order.side,
        "amount": order.amount,
        "price": order.price,
        "stop_price": order.stop_price,
        "time_in_force": order.time_in_force,
        "product": order.product or None,
        "filled": order.filled,
        "remaining": order.amount - order.filled,
        "average": order.average,
        "cost": order.cost,
        "status": order.status,
        "fee": {"cost": order.fee, "currency": order.fee_currency},
        "timestamp": int(order.created_at.timestamp() * 1000),
        "price_source": price_source,
    }


class Feed(Protocol):
    """Where the paper exchange's prices come from (trading.exchanges.SimulatedMarketData / LiveMarketData)."""

    source: str  # "simulated" or "live": reported as each fill's price_source

    def ticker(self, symbol: str, now: float | None = None) -> dict: ...

    def ohlcv(self, symbol: str, timeframe: str = "1m", limit: int = 100, now: float | None = None) -> list: ...


class PaperExchange(Exchange):
    def __init__(self, user: User, platform_id: str, feed: Feed, account: Any = None) -> None:
        """``account``: a paper trading account (wallets.ExchangeCredential, trading_mode "paper") of ``user`` on this
        platform, whose balances and orders are its own; None: the user's default paper book of the platform."""
        platform = get_platform(platform_id)
        if platform is None:
            raise ValidationFailed(f"Unknown exchange {platform_id!r}")
        self.user = user
        self.account = account
        # Every PaperBalance / PaperOrder row of this book matches these (account None: the default book).
        self.book = {"user": user, "platform": platform.id, "account": account}
        self.platform = platform
        self.platform_id = platform.id
        self.feed = feed
        self.price_source = feed.source
        self.maker_fee, self.taker_fee = fillmodel.fee_rates(platform.id)
        self._opened = False  # the book is known to have its balance rows (_ensure_account)

    # --- market data -----------------------------------------------------------------------------------------
    def load_markets(self):
        return {symbol: market_info(symbol) for symbol in self.platform.symbols}

    def market(self, symbol):
        symbol = (symbol or "").upper()
        if symbol not in self.platform.symbols:
            raise ValidationFailed(
                f"{self.platform.name} has no market {symbol or '(empty)'}", details={"symbol": ["unknown market"]}
            )
        return market_info(symbol)

    def fetch_ticker(self, symbol):
        self.market(symbol)
        return self.feed.ticker(symbol)

    def fetch_ohlcv(self, symbol, timeframe="1m", limit=100):
        self.market(symbol)
        return self.feed.ohlcv(symbol, timeframe, limit)

    def market_clock(self, symbol=None):
        """The session of ``symbol``'s market (trading.sessions): crypto never closes."""
        return sessions.market_clock(symbol or self.platform.default_symbol)

    # --- balances --------------------------------------------------------------------------------------------
    def _ensure_account(self):
        # Once this book has a balance row it keeps one (rows are never deleted while the book exists): ask once per
        # exchange object, not once per order.
        if self._opened or PaperBalance.objects.filter(**self.book).exists():
            self._opened = True
            return
        starting = settings.PAPER_STARTING_BALANCES
        amount = Decimal(str(starting.get(self.platform.quote, "0")))
        try:
            with transaction.atomic():
                PaperBalance.objects.create(**self.book, currency=self.platform.quote, free=amount)
        except IntegrityError:
            pass  # created concurrently

    def fund(self, amount: Decimal) -> None:
        """Open this book with ``amount`` of the platform's quote currency (a new paper account's starting balance);
        a book that already has balances is left as it is."""
        if PaperBalance.objects.filter(**self.book).exists():
            return
        try:
            with transaction.atomic():
                PaperBalance.objects.create(**self.book, currency=self.platform.quote, free=Decimal(str(amount)))
        except IntegrityError:
            pass  # opened concurrently

    def fetch_balance(self):
        self._ensure_account()
        return {
            row.currency: {"free": row.free, "used": row.used, "total": row.total}
            for row in PaperBalance.objects.filter(**self.book).order_by("currency")
        }

    def _locked_balances(self, *currencies):
        """Lock (and create if missing) the balance rows of these currencies, always in the same order."""
        wanted = sorted(set(currencies))

        def lock():
            # One locking read for every row (ordered, so concurrent orders take the locks in the same order).
            return {
                row.currency: row
                for row in PaperBalance.objects.select_for_update()
                .filter(**self.book, currency__in=wanted)
                .order_by("currency")
            }

        rows = lock()
        if len(rows) < len(wanted):  # first use of a currency: create its row, then lock them all again
            for currency in wanted:
                if currency not in rows:
                    PaperBalance.objects.get_or_create(**self.book, currency=currency)
            rows = lock()
        return rows

    # --- orders ----------------------------------------------------------------------------------------------
    def _fill_price(self, market, side, amount, book):
        """Average price for a market order of ``amount`` walking a linear synthetic book from the touch."""
        return fillmodel.market_fill_price(market, side, amount, book)

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: Number,
        price: Number | None = None,
        client_order_id: str | None = None,
        options: OrderOptions | None = None,
    ) -> dict:
        market = self.market(symbol)
        options = self.check_options(market, type, options)
        book = self.feed.ticker(market["symbol"])
        amount, price = self.check_order(market, type, side, amount, price, reference_price=book["last"])
        if client_order_id:
            existing = PaperOrder.objects.filter(**self.book, client_order_id=client_order_id).first()
            if existing is not None:
                return order_dict(existing, self.price_source)
        clock = sessions.market_clock(market["symbol"])
        if not clock["is_open"] and options.time_in_force == "ioc":
            raise ValidationFailed(
                f"{market['symbol']}'s market is closed ({clock['session']}): an ioc order cannot fill before it "
                f"opens at {clock['next_open']:%Y-%m-%d %H:%M} UTC",
                details={"time_in_force": ["market closed"]},
            )
        self._ensure_account()
        try:
            with transaction.atomic():
                balances = self._locked_balances(market["base"], market["quote"])
                order = PaperOrder(
                    **self.book,
                    symbol=market["symbol"],
                    side=side,
                    type=type,
                    amount=amount,
                    price=price,
                    stop_price=options.stop_price,
                    time_in_force=options.time_in_force,
                    product=options.product or "",
                    expires_at=sessions.day_end(market["symbol"]) if options.time_in_force == "day" else None,
                    client_order_id=client_order_id or f"paper-{self._new_id()}",
                )
                if not clock["is_open"]:
                    # Closed: everything waits for the open (match_open_orders fills it at the first price after it).
                    self._reserve(order, balances, market, book)
                elif type in ("stop", "stop_limit"):
                    if self._stop_reached(order, book):
                        self._trigger(order, balances, market, book)
                    else:
                        self._reserve(order, balances, market, book)
                elif type == "market":
                    self._fill(order, balances, market, self._fill_price(market, side, amount, book), self.taker_fee)
                else:
                    fill_price = self._marketable_price(order, market, book)
                    if fill_price is not None:
                        self._fill(order, balances, market, fill_price, self.taker_fee)
                    elif options.time_in_force == "ioc":
                        order.status = "canceled"  # immediate or cancel: nothing could fill now
                    else:
                        self._reserve(order, balances, market, book)
                order.save()
        except IntegrityError:
            # The same client order id was placed concurrently: return that one, never fill twice.
            existing = PaperOrder.objects.filter(**self.book, client_order_id=client_order_id).first()
            if existing is None:
                raise
            return order_dict(existing, self.price_source)
        return order_dict(order, self.price_source)

    def _marketable_price(self, order, market, book):
        """The price a limit order fills at now when it crosses the book (never worse than its limit), else None."""
        side, price = order.side, order.price
        marketable = (side == "buy" and book["ask"] <= price) or (side == "sell" and book["bid"] >= price)
        if not marketable:
            return None
        fill_price = self._fill_price(market, side, order.amount, book)
        if (side == "buy" and fill_price <= price) or (side == "sell" and fill_price >= price):
            return fill_price
        return None

    @staticmethod
    def _stop_reached(order, book):
        """A buy stop triggers when the last price is at or above its stop, a sell stop at or below."""
        last = book["last"]
        return last >= order.stop_price if order.side == "buy" else last <= order.stop_price

    def _trigger(self, order, balances, market, book):
        """A stop reached: a stop fills as a market order, a stop_limit becomes a limit order at its price. Funds an
        order had reserved (``order.reserved``) are used first."""
        order.triggered = True
        reserved = order.reserved
        if order.type == "stop":
            self._fill(
                order,
                balances,
                market,
                self._fill_price(market, order.side, order.amount, book),
                self.taker_fee,
                from_reserved=reserved,
            )
            return
        fill_price = self._marketable_price(order, market, book)
        if fill_price is not None:
            self._fill(order, balances, market, fill_price, self.taker_fee, from_reserved=reserved)
        elif not reserved:
            self._reserve(order, balances, market, book)

    @staticmethod
    def _new_id():
        import uuid

        return uuid.uuid4().hex

    def _fill(self, order, balances, market, fill_price, fee_rate, from_reserved=ZERO):
        """Settle a whole fill. ``from_reserved`` is what an open order had set aside in ``used``."""
        base, quote = balances[market["base"]], balances[market["quote"]]
        amount = order.amount
        cost, fee = fillmodel.settle(amount, fill_price, fee_rate)
        if order.side == "buy":
            needed = cost + fee
            if from_reserved:
                quote.used -= from_reserved
                quote.free += from_reserved
            if quote.free < needed:
                raise InsufficientFunds(f"Insufficient {market['quote']}: need {needed}, have {quote.free}")
            quote.free -= needed
            base.free += amount
        else:
            if from_reserved:
                base.used -= from_reserved
                base.free += from_reserved
            if base.free < amount:
                raise InsufficientFunds(f"Insufficient {market['base']}: need {amount}, have {base.free}")
            base.free -= amount
            quote.free += cost - fee
        order.filled, order.average, order.cost, order.fee = amount, fill_price, cost, fee
        order.fee_currency = market["quote"]
        order.reserved = ZERO
        order.status = "closed"
        base.save(update_fields=["free", "used", "updated_at"])
        quote.save(update_fields=["free", "used", "updated_at"])

    def _reserve(self, order, balances, market, book=None):
        """Set an order's funds aside (``used``): a buy's cost at its limit price (a stop's at its stop price, a market
        order's at the ask) plus the larger fee; a sell's amount."""
        if order.side == "buy":
            row = balances[market["quote"]]
            if order.price is not None:
                at = order.price
            elif order.stop_price is not None:
                at = max(order.stop_price, book["ask"]) if book else order.stop_price
            else:
                at = book["ask"]
            need = (order.amount * at * (1 + max(self.maker_fee, self.taker_fee))).quantize(
                Decimal("0.00000001"), rounding=ROUND_HALF_UP
            )
            currency = market["quote"]
        else:
            row = balances[market["base"]]
            need = order.amount
            currency = market["base"]
        if row.free < need:
            raise InsufficientFunds(f"Insufficient {currency}: need {need}, have {row.free}")
        row.free -= need
        row.used += need
        row.save(update_fields=["free", "used", "updated_at"])
        order.reserved = need
        order.status = "open"

    def _release(self, order, balances, market):
        currency = market["quote"] if order.side == "buy" else market["base"]
        row = balances[currency]
        row.used -= order.reserved
        row.free += order.reserved
        row.save(update_fields=["free", "used", "updated_at"])
        order.reserved = ZERO

    # --- funds held for transfers ---------------------------------------------------------------------------
    # A transfer requested out of a paper account sets its amount aside in ``used`` under the same row lock the fills
    # take, so no order can spend it while the transfer is pending. Completion takes it out of ``used`` (and credits the
    # destination paper account); a cancel or a failure gives it back to ``free``.
    def hold(self, currency: str, amount: Decimal, keep_free: Decimal = ZERO) -> None:
        """Move ``amount`` of ``currency`` from free to used. Raises InsufficientFunds unless ``free`` covers the amount
        and ``keep_free`` besides."""
        if amount <= 0:
            raise ValidationFailed("amount must be greater than 0", details={"amount": ["must be greater than 0"]})
        self._ensure_account()
        with transaction.atomic():
            row = self._locked_balances(currency)[currency]
            available = row.free - keep_free
            if amount > available:
                shown = money(max(available, ZERO))
                raise InsufficientFunds(f"Insufficient {currency} on {self.platform.name}: {shown} available")
            row.free -= amount
            row.used += amount
            row.save(update_fields=["free", "used", "updated_at"])

    def release_hold(self, currency: str, amount: Decimal) -> None:
        """Give a held ``amount`` back to free (the transfer was canceled or failed)."""
        with transaction.atomic():
            row = self._locked_balances(currency)[currency]
            if row.used < amount:
                raise ValidationFailed(f"{currency} on {self.platform.name} holds less than {amount}")
            row.used -= amount
            row.free += amount
            row.save(update_fields=["free", "used", "updated_at"])

    def send_held(self, currency: str, amount: Decimal, to: "PaperExchange") -> None:
        """A completed transfer: the held ``amount`` leaves this account's used and arrives free on ``to`` (the same
        user's paper account on another platform). Both rows are locked in (platform, currency) order."""
        if to.user.pk != self.user.pk or to.platform_id == self.platform_id:
            raise ValidationFailed("a paper transfer goes to another platform of the same user")
        to._ensure_account()  # the destination's starting balance first, else the credit would stand in for it
        with transaction.atomic():
            rows = {}
            for exchange in sorted((self, to), key=lambda e: e.platform_id):
                rows[exchange.platform_id] = exchange._locked_balances(currency)[currency]
            source, destination = rows[self.platform_id], rows[to.platform_id]
            if source.used < amount:
                raise ValidationFailed(f"{currency} on {self.platform.name} holds less than {amount}")
            source.used -= amount
            destination.free += amount
            source.save(update_fields=["free", "used", "updated_at"])
            destination.save(update_fields=["free", "used", "updated_at"])

    def match_open_orders(self, symbol: str | None = None) -> list:
        """Give resting orders what the market owes them: cancel day orders past their session's close; while an
        order's market is open, fill orders that waited for the open (at the first price after it), trigger stops
        whose price was reached and fill limit orders whose price the market has crossed. Returns the orders filled."""
        open_orders = PaperOrder.objects.filter(**self.book, status="open")
        if symbol:
            open_orders = open_orders.filter(symbol=symbol.upper())
        filled = []
        books: dict[str, dict] = {}
        moment = datetime.datetime.fromtimestamp(sessions.now(), tz=datetime.UTC)
        for candidate in open_orders.order_by("created_at"):
            expired = candidate.expires_at is not None and candidate.expires_at <= moment
            if not expired and not sessions.is_open(candidate.symbol):
                continue  # the market is closed: nothing fills until it opens
            book = None if expired else books.setdefault(candidate.symbol, self.feed.ticker(candidate.symbol))
            if book is not None and not self._due(candidate, book):
                continue
            market = market_info(candidate.symbol)
            with transaction.atomic():
                balances = self._locked_balances(market["base"], market["quote"])
                order = PaperOrder.objects.select_for_update().get(pk=candidate.pk)
                if order.status != "open":
                    continue
                if expired:
                    self._release(order, balances, market)
                    order.status = "canceled"
                else:
                    self._settle_due(order, balances, market, book)
                order.save()
            if order.status == "closed":
                filled.append(order_dict(order, self.price_source))
        return filled

    def _due(self, order, book):
        """Whether a resting order has something to do at ``book`` (its market being open)."""
        if order.type == "market":
            return True
        if order.type in ("stop", "stop_limit") and not order.triggered:
            return self._stop_reached(order, book)
        return (order.side == "buy" and book["ask"] <= order.price) or (
            order.side == "sell" and book["bid"] >= order.price
        )

    def _settle_due(self, order, balances, market, book):
        """Fill (or trigger) a resting order that is due, its balance rows locked. A buy whose reservation no longer
        covers the price it meets (the market gapped at the open) is rejected and its funds released."""
        try:
            with transaction.atomic():
                if order.type == "market":
                    fill_price = self._fill_price(market, order.side, order.amount, book)
                    self._fill(order, balances, market, fill_price, self.taker_fee, from_reserved=order.reserved)
                elif order.type in ("stop", "stop_limit") and not order.triggered:
                    self._trigger(order, balances, market, book)
                else:
                    self._fill(order, balances, market, order.price, self.maker_fee, from_reserved=order.reserved)
        except InsufficientFunds:
            for row in balances.values():
                row.refresh_from_db()
            self._release(order, balances, market)
            order.status = "rejected"

    @staticmethod
    def users_with_resting_orders(platform_id: str, symbol: str, user_ids) -> set:
        """Which of ``user_ids`` have open (resting) paper orders on ``symbol`` of ``platform_id``: one query for a
        whole group of bots (bots.engine.tick_group), so that match_open_orders runs only for the bots it can affect."""
        return {
            str(user_id)
            for user_id in PaperOrder.objects.filter(
                platform=platform_id, symbol=symbol.upper(), status="open", user_id__in=list(user_ids)
            )
            .values_list("user_id", flat=True)
            .distinct()
        }

    def _get(self, order_id):
        order = PaperOrder.objects.filter(**self.book, pk=order_id).first() if _is_uuid(order_id) else None
        if order is None:
            order = PaperOrder.objects.filter(**self.book, client_order_id=str(order_id)).first()
        if order is None:
            raise NotFound("Order not found")
        return order

    def cancel_order(self, order_id, symbol=None):
        order = self._get(order_id)
        market = market_info(order.symbol)
        with transaction.atomic():
            balances = self._locked_balances(market["base"], market["quote"])
            order = PaperOrder.objects.select_for_update().get(pk=order.pk)
            if order.status == "open":
                self._release(order, balances, market)
                order.status = "canceled"
                order.save()
        return order_dict(order, self.price_source)

    def fetch_order(self, order_id, symbol=None):
        order = self._get(order_id)
        if order.status == "open":
            self.match_open_orders(order.symbol)
            order.refresh_from_db()
        return order_dict(order, self.price_source)

    def fetch_open_orders(self, symbol=None):
        self.match_open_orders(symbol)
        orders = PaperOrder.objects.filter(**self.book, status="open")
        if symbol:
            orders = orders.filter(symbol=symbol.upper())
        return [order_dict(o, self.price_source) for o in orders.order_by("created_at")]


def _is_uuid(value):
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
