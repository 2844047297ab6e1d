"""The paper exchange's fill model as pure functions (no Django, no I/O), shared by the paper exchange
(trading.exchanges.paper), the trade book (trading.services.record_fill) and the backtest (research.backtest), so a
backtest fills, charges and books P&L exactly as paper trading does: one implementation.

- ``quote_book(symbol, mid)``: the synthetic top of book around a mid price (the simulated feed's spread per asset).
- ``book_levels(symbol, bid, ask, limit)``: that linear synthetic book as ``limit`` price levels a side (what the
  simulated feed answers for an order book: GET /api/market/depth).
- ``market_fill_price(market, side, amount, book)``: a market order's average price walking a linear synthetic book
  from the touch (ask for a buy, bid for a sell): slippage grows with the order's size.
- ``settle(amount, price, fee_rate)``: (cost, fee) of a fill, quantized like the paper exchange's balances.
- ``close_profit(...)`` / ``average_entry(...)``: the realised P&L of (part of) a position and a position's new entry
  price after another buy, as the trade book computes them.
"""

from decimal import ROUND_HALF_UP, Decimal

from trading.exchanges import simfeed

STEP = Decimal("0.00000001")

# (maker, taker) fee rates per platform, from their public spot fee schedules' entry tiers.
FEES = {
    "luno": (Decimal("0"), Decimal("0.001")),
    "binance": (Decimal("0.001"), Decimal("0.001")),
    "kucoin": (Decimal("0.001"), Decimal("0.001")),
    "kraken": (Decimal("0.0016"), Decimal("0.0026")),
    "valr": (Decimal("0"), Decimal("0.001")),
}
DEFAULT_FEES = (Decimal("0.001"), Decimal("0.001"))
# Synthetic book depth: notional in USD available within 1 % of the touch, per base asset.
DEPTH_USD_PER_PCT = {
    "BTC": 2_000_000,
    "ETH": 1_000_000,
    "SOL": 300_000,
    "XRP": 200_000,
    "BNB": 250_000,
    # Stocks (trading.sessions): large caps' books are deep; NSE shares' in USD at the feed's INR rate.
    "AAPL": 5_000_000,
    "MSFT": 5_000_000,
    "TSLA": 3_000_000,
    "SPY": 20_000_000,
    "RELIANCE": 1_000_000,
    "TCS": 600_000,
    "INFY": 600_000,
    "HDFCBANK": 800_000,
    "SBIN": 600_000,
    "NIFTY": 5_000_000,
}


def fee_rates(platform_id: str) -> tuple[Decimal, Decimal]:
    """(maker, taker) fee rates of a platform's paper exchange."""
    return FEES.get(platform_id, DEFAULT_FEES)


def quote_book(symbol: str, mid: float) -> dict:
    """{"symbol", "bid", "ask", "last"}: the simulated feed's quote around ``mid`` (its per-asset spread)."""
    return simfeed.quote(symbol, mid)


BOOK_LEVEL_STEP = 0.0005  # 5 basis points between two levels of the synthetic book
DEFAULT_DEPTH_USD_PER_PCT = 1_000_000


def book_levels(symbol: str, bid: float, ask: float, limit: int = 20) -> dict:
    """The synthetic book market_fill_price walks, as levels: {"bids": [[price, amount], ...] best first, "asks": ...}.
    Every level is BOOK_LEVEL_STEP past the previous one and holds the same notional (DEPTH_USD_PER_PCT per 1 % of
    price, in the quote currency), so a market order's average price over these levels matches market_fill_price."""
    base, quote = simfeed.split_symbol(symbol)
    depth_usd = DEPTH_USD_PER_PCT.get(base, DEFAULT_DEPTH_USD_PER_PCT)
    per_level_quote = depth_usd * (BOOK_LEVEL_STEP / 0.01) * simfeed.QUOTES_PER_USD[quote]
    step = Decimal(str(BOOK_LEVEL_STEP))

    def side(touch: Decimal, sign: int) -> list:
        places = simfeed._decimals(float(touch))
        rows = []
        for i in range(max(int(limit), 0)):
            price = round(touch * (1 + sign * i * step), places)
            rows.append([float(price), round(per_level_quote / float(price), 8)])
        return rows

    return {"bids": side(Decimal(str(bid)), -1), "asks": side(Decimal(str(ask)), 1)}


def market_fill_price(market: dict, side: str, amount: Decimal, book: dict, slippage: Decimal | None = None) -> Decimal:
    """Average price for a market order of ``amount`` walking a linear synthetic book from the touch. ``slippage`` (a
    fraction of the touch price) replaces the depth model with a fixed slippage when given (backtests may choose it)."""
    touch = book["ask"] if side == "buy" else book["bid"]
    if slippage is None:
        usd_per_quote = Decimal(str(1 / simfeed.QUOTES_PER_USD[market["quote"]]))
        notional_usd = amount * touch * usd_per_quote
        depth = Decimal(DEPTH_USD_PER_PCT[market["base"]])
        impact = Decimal("0.01") * notional_usd / (2 * depth)
    else:
        impact = slippage
    price = touch * (1 + impact) if side == "buy" else touch * (1 - impact)
    return price.quantize(market["price_precision"] / 100, rounding=ROUND_HALF_UP)


def settle(amount: Decimal, price: Decimal, fee_rate: Decimal) -> tuple[Decimal, Decimal]:
    """(cost, fee) of a fill of ``amount`` at ``price``."""
    cost = (amount * price).quantize(STEP, rounding=ROUND_HALF_UP)
    fee = (cost * fee_rate).quantize(STEP, rounding=ROUND_HALF_UP)
    return cost, fee


def average_entry(entry_price: Decimal, amount: Decimal, price: Decimal, added: Decimal) -> Decimal:
    """A position's entry price after buying ``added`` more at ``price``."""
    return ((entry_price * amount + price * added) / (amount + added)).quantize(STEP)


def close_profit(
    entry_price: Decimal, entry_fee: Decimal, amount: Decimal, closing: Decimal, price: Decimal, fee: Decimal
) -> tuple[Decimal, Decimal]:
    """(profit, entry fee share) of selling ``closing`` of a position of ``amount`` at ``price`` with ``fee``: the
    realised P&L net of this fee and of the closed share of the entry fee."""
    fee_share = (entry_fee * closing / amount).quantize(STEP)
    profit = (price * closing - fee - entry_price * closing - fee_share).quantize(STEP)
    return profit, fee_share
