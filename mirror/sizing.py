"""The arithmetic of mirrored orders, pure (no Django, no I/O): a follower's size from the primary's, rounding to a
market's amount step and lots, splitting at the market's freeze quantity, and the funds an order needs.

A market is the Exchange interface's market dict (trading.exchanges.base): ``amount_precision`` (a step), ``lot_size``
(None for fractional markets), ``min_amount``, ``max_amount``, ``max_market_amount`` (the freeze quantity of a market
order); any may be None.
"""

from decimal import ROUND_DOWN, ROUND_UP, Decimal

from trading.exchanges.base import round_to_step

ZERO = Decimal("0")


def round_amount(amount: Decimal, market: dict) -> Decimal:
    """``amount`` rounded down to the market's amount step and then to whole lots (never up: a follower never trades
    more than asked). Zero when less than one step or lot remains."""
    if amount <= 0:
        return ZERO
    rounded = round_to_step(amount, market.get("amount_precision"), ROUND_DOWN)
    lot = market.get("lot_size")
    if lot:
        rounded = round_to_step(rounded, lot, ROUND_DOWN)
    return max(rounded, ZERO)


def follower_amount(
    primary_amount: Decimal, market: dict, multiplier: Decimal | None = None, fixed_amount: Decimal | None = None
) -> Decimal:
    """A follower's size: its fixed size when it has one, else the primary's size x its multiplier; rounded down to the
    market (round_amount)."""
    raw = fixed_amount if fixed_amount is not None else primary_amount * (multiplier if multiplier is not None else 1)
    return round_amount(raw, market)


def freeze_quantity(market: dict, order_type: str) -> Decimal | None:
    """The largest single order the market takes: ``max_market_amount`` for market (and stop) orders, ``max_amount``
    for limit orders (a market order with no stated market maximum falls back to ``max_amount``). None: no limit."""
    if order_type in ("market", "stop"):
        return market.get("max_market_amount") or market.get("max_amount") or None
    return market.get("max_amount") or None


def split(amount: Decimal, max_amount: Decimal | None, market: dict | None = None) -> list[Decimal]:
    """``amount`` (already rounded to the market) as slices of at most ``max_amount`` that sum to it exactly, each a
    whole multiple of the market's step/lot. Full slices first, then the rest; a rest below the market's minimum takes
    what it lacks from the slice before it (which stays at or below the maximum and above the minimum when the
    maximum is at least twice the minimum)."""
    if amount <= 0:
        return []
    market = market or {}
    if not max_amount or amount <= max_amount:
        return [amount]
    step = market.get("lot_size") or market.get("amount_precision")
    piece = round_to_step(max_amount, step, ROUND_DOWN) if step else max_amount
    if piece <= 0:  # a maximum below one step: nothing smaller can be sent either
        piece = max_amount
    count, rest = divmod(amount, piece)
    slices = [piece] * int(count)
    if rest > 0:
        slices.append(rest)
    minimum = market.get("min_amount")
    if minimum and len(slices) > 1 and slices[-1] < minimum:
        lack = minimum - slices[-1]
        if step:
            lack = round_to_step(lack, step, ROUND_UP)
        if slices[-2] - lack >= minimum:
            slices[-2] -= lack
            slices[-1] += lack
    return slices


def required_funds(
    side: str, amount: Decimal, price: Decimal, fee_rate: Decimal, base: str, quote: str
) -> tuple[str, Decimal]:
    """(currency, amount) an order needs free before it is sent: a buy needs its cost plus the fee in the quote
    currency; a sell needs the amount in the base currency (its fee is taken from the proceeds)."""
    if side == "buy":
        cost = amount * price
        return quote, cost + cost * fee_rate
    return base, amount


def cap_to_value(amount: Decimal, price: Decimal, max_value: Decimal | None, market: dict) -> Decimal:
    """``amount`` reduced so that amount x price stays at or below ``max_value`` (a member's maximum order value),
    rounded down to the market."""
    if not max_value or price <= 0 or amount * price <= max_value:
        return amount
    return round_amount(max_value / price, market)
