"""The one interface every exchange implements: the ccxt adapter (live) and the paper exchange alike,
so a bot cannot tell paper from live. Amounts and prices are Decimal everywhere.

Shapes (plain dicts, ccxt-like, values Decimal):
- ticker:  {"symbol", "bid", "ask", "last", "timestamp"(ms)}
- candle:  [timestamp_ms, open, high, low, close, volume]
- balance: {"BTC": {"free", "used", "total"}, ...}
- order:   {"id", "client_order_id", "symbol", "type" (market|limit|stop|stop_limit), "side" (buy|sell), "amount",
            "price", "filled", "remaining", "average", "cost", "status" (open|closed|canceled|rejected),
            "fee": {"cost", "currency"}, "timestamp"(ms)}; adapters may add "stop_price", "time_in_force", "product"
- market:  {"symbol", "base", "quote", "amount_precision", "price_precision", "min_amount", "max_amount",
            "min_cost", "max_market_amount", "lot_size"}
  amount_precision / price_precision are steps (Decimal("0.00001"), Decimal("0.5")), not numbers of decimals; any
  limit may be None (the exchange does not state it, nothing is checked). ``lot_size`` (None for markets traded in
  fractions) is the lot a stock market trades in: amounts are whole multiples of it (1: whole shares).

Order types: market and limit everywhere; stop (a market order once the last price reaches ``stop_price``: a buy
stop at or above it, a sell stop at or below it) and stop_limit (a limit order at ``price`` once it is reached) where
the exchange supports them (the paper exchange does). ``OrderOptions`` carries what stock brokers add: the product
(MIS intraday, CNC delivery, NRML derivatives), the time in force (gtc, day, ioc) and the stop price.

``Exchange.check_order`` is the one place an order is rounded to its market and checked against the market's limits,
before anything is sent. ``side`` and ``type`` are not checked here: they reach an exchange either from the API's
input serializers (trading.serializers.OrderCreateSerializer, ChoiceFields) or as constants of the bot engine.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation
from typing import Any

from amarktai.errors import ValidationFailed
from trading.platforms import Platform

Number = Decimal | str | int | float

ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
PRODUCTS = ("MIS", "CNC", "NRML")
TIMES_IN_FORCE = ("gtc", "day", "ioc")


@dataclass(frozen=True)
class OrderOptions:
    """What an order may say besides symbol, type, side, amount and price (``create_order(..., options=)``).

    - ``product``: a stock broker's product: "MIS" (intraday, squared off by the broker before the close), "CNC"
      (delivery), "NRML" (derivatives carried overnight); None: the broker's default (crypto exchanges have none).
    - ``time_in_force``: "gtc" (until canceled, the default), "day" (canceled at the session's close; around the
      clock markets: at midnight UTC), "ioc" (whatever does not fill at once is canceled).
    - ``stop_price``: the trigger of a stop or stop_limit order (required by them, refused with other types).
    """

    product: str | None = None
    time_in_force: str = "gtc"
    stop_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.product is not None and self.product not in PRODUCTS:
            raise ValidationFailed(
                f"product must be one of {', '.join(PRODUCTS)}", details={"product": ["invalid choice"]}
            )
        if self.time_in_force not in TIMES_IN_FORCE:
            raise ValidationFailed(
                f"time_in_force must be one of {', '.join(TIMES_IN_FORCE)}",
                details={"time_in_force": ["invalid choice"]},
            )

    @property
    def is_default(self) -> bool:
        return self.product is None and self.time_in_force == "gtc" and self.stop_price is None


def decimal_or_none(value: Number | None) -> Decimal | None:
    """``value`` as a finite Decimal, or None when it is not a number (None, "", "None", "abc", NaN, infinity): how
    every adapter reads the numbers an exchange or broker sends."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def round_to_step(value: Decimal, step: Decimal | None, rounding: str) -> Decimal:
    """``value`` rounded to a whole multiple of ``step`` (any step, e.g. 0.5, not only powers of ten)."""
    if not step:
        return value
    return (value / step).to_integral_value(rounding=rounding) * step


@dataclass
class KeySet:
    """Keys given in a request and not stored (``POST /api/keys/test`` with keys): the same attributes an adapter reads
    from a stored ``wallets.ExchangeCredential``. A broker session obtained while testing lives only here."""

    platform_id: str
    api_key: str = ""
    api_secret: str = ""
    passphrase: str = ""
    extras: dict = field(default_factory=dict)
    testnet: bool = False
    session: str = ""

    def save_session(self, session: str) -> None:
        self.session = session


class Exchange(ABC):
    """Adapters are built from a credential (``trading.exchanges.connect``): any object with ``platform_id``,
    ``api_key``, ``api_secret``, ``passphrase``, ``extras`` (dict of the platform's extra credential fields),
    ``testnet``, ``session`` (a broker's session token, "" if none) and ``save_session(token)`` (keeps it encrypted
    with the credential): a stored ``wallets.ExchangeCredential`` or a ``KeySet``."""

    platform_id: str
    platform: Platform
    # The trading account (a stored wallets.ExchangeCredential) the orders go to, when known: set by get_exchange;
    # trading.services records it on each Order (Order.account). None: a KeySet, or the user's default paper book.
    account: Any = None

    @abstractmethod
    def load_markets(self) -> dict: ...

    @abstractmethod
    def fetch_ticker(self, symbol: str) -> dict: ...

    @abstractmethod
    def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", limit: int = 100) -> list: ...

    @abstractmethod
    def fetch_balance(self) -> dict: ...

    @abstractmethod
    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: Number,
        price: Number | None = None,
        client_order_id: str | None = None,
        options: OrderOptions | None = None,
    ) -> dict: ...

    @abstractmethod
    def cancel_order(self, order_id: str, symbol: str | None = None) -> dict: ...

    @abstractmethod
    def fetch_order(self, order_id: str, symbol: str | None = None) -> dict: ...

    @abstractmethod
    def fetch_open_orders(self, symbol: str | None = None) -> list: ...

    def check_order(
        self,
        market: dict,
        type: str,
        side: str,
        amount: Number,
        price: Number | None,
        reference_price: Decimal | None = None,
    ) -> tuple[Decimal, Decimal | None]:
        """Round an order to ``market`` (a market dict of the shape above) and check the market's limits.

        Returns (amount, price): the amount rounded down to the amount step and to whole lots (``lot_size``: below one
        lot is refused); a limit (or stop_limit) order's price rounded to the price step towards the user's side of
        the book (a buy down, a sell up: the rounded limit is never worse than the one asked for); None as the price
        of a market or stop order. Raises ValidationFailed. The minimum value of a market order is checked at
        ``reference_price`` (default: the ticker's last price, fetched only when needed).
        """
        base, quote = market["base"], market["quote"]
        number = decimal_or_none(amount)
        if number is None:
            raise ValidationFailed("amount must be a number", details={"amount": ["invalid"]})
        rounded = round_to_step(number, market["amount_precision"], ROUND_DOWN)
        lot = market.get("lot_size")
        if lot:
            if number < lot:
                unit = "share" if lot == 1 else f"lot of {lot}"
                raise ValidationFailed(
                    f"{market['symbol']} trades in whole {'shares' if lot == 1 else f'lots of {lot}'}: "
                    f"{number.normalize():f} is less than one {unit}",
                    details={"amount": ["below one lot"]},
                )
            rounded = round_to_step(rounded, lot, ROUND_DOWN)
        if market["min_amount"] and rounded < market["min_amount"]:
            raise ValidationFailed(
                f"amount must be at least {market['min_amount']} {base}", details={"amount": ["below the minimum"]}
            )
        if rounded <= 0:
            raise ValidationFailed(
                f"amount is below {self.platform.name}'s smallest step for {market['symbol']}",
                details={"amount": ["below the minimum"]},
            )
        max_amount = market["max_market_amount"] if type == "market" else market["max_amount"]
        if max_amount and rounded > max_amount:
            raise ValidationFailed(
                f"a {type} order may be at most {max_amount} {base}; split it",
                details={"amount": ["above the maximum"]},
            )
        if type in ("limit", "stop_limit"):
            if price is None:
                raise ValidationFailed(f"a {type} order needs a price", details={"price": ["required"]})
            limit_price = decimal_or_none(price)
            if limit_price is not None:
                limit_price = round_to_step(
                    limit_price, market["price_precision"], ROUND_DOWN if side == "buy" else ROUND_UP
                )
            if limit_price is None or limit_price <= 0:
                raise ValidationFailed("price must be positive", details={"price": ["invalid"]})
        else:
            limit_price = None
        if market.get("min_cost"):
            reference = limit_price or reference_price or self.fetch_ticker(market["symbol"])["last"]
            if reference is not None and rounded * reference < market["min_cost"]:
                raise ValidationFailed(
                    f"order value must be at least {market['min_cost']} {quote}",
                    details={"amount": ["below the minimum value"]},
                )
        return rounded, limit_price

    def check_options(self, market: dict, type: str, options: OrderOptions | None) -> OrderOptions:
        """``options`` checked against the order type (a stop price for stop orders and only for them, its price
        rounded to the market's step; ioc not for stop orders). Returns the options (defaults when None)."""
        options = options or OrderOptions()
        if type not in ORDER_TYPES:
            raise ValidationFailed(
                f"type must be one of {', '.join(ORDER_TYPES)}", details={"type": ["invalid choice"]}
            )
        stop = options.stop_price
        if type in ("stop", "stop_limit"):
            number = decimal_or_none(stop) if stop is not None else None
            if number is None or number <= 0:
                raise ValidationFailed(
                    f"a {type} order needs a positive stop_price", details={"stop_price": ["required"]}
                )
            if options.time_in_force == "ioc":
                raise ValidationFailed(
                    "a stop order waits for its trigger: time_in_force ioc does not apply",
                    details={"time_in_force": ["not with stop orders"]},
                )
            number = round_to_step(number, market.get("price_precision"), ROUND_DOWN)
            if number <= 0:
                raise ValidationFailed(
                    f"stop_price is below {market['symbol']}'s price step", details={"stop_price": ["too small"]}
                )
            return OrderOptions(options.product, options.time_in_force, number)
        if stop is not None:
            raise ValidationFailed(
                "stop_price is only for stop and stop_limit orders", details={"stop_price": ["not with this type"]}
            )
        return options

    def test_connection(self) -> dict:
        """An authenticated call that proves the keys work. Returns {"permissions": {"read", "trade", "withdraw"}
        (bools) or None when the exchange does not tell, "account": a short description or None}. Raises AuthInvalid
        when the keys are refused, ProviderError when the exchange cannot be reached. Adapters that know more
        override it."""
        self.fetch_balance()
        return {"permissions": None, "account": None}

    def ping(self) -> int:
        """Milliseconds one unauthenticated call to the exchange took (the health check). Raises ProviderError."""
        raise NotImplementedError

    def market_clock(self, symbol: str | None = None) -> dict:
        """When ``symbol``'s market trades: {"is_open", "next_open", "next_close" (datetimes or None), "session"}.
        Crypto trades around the clock; stock brokers override this."""
        return {"is_open": True, "next_open": None, "next_close": None, "session": "24/7"}

    def match_open_orders(self, symbol: str | None = None) -> list:
        """Give resting orders the fills the market owes them, before a bot decides. A real exchange matches its own
        book, so there is nothing to do (the paper exchange overrides this). Returns the orders filled."""
        return []
