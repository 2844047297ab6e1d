"""A deterministic simulated market that every process computes on its own.

The log-price of a symbol is a Brownian path built by midpoint subdivision (a Brownian bridge) inside "eras" of 2**20
minutes (~2 years). Era end points are drawn around the asset's reference price and midpoints of spans longer than a
month get no more than a month's spread (mean reversion: prices stay plausible over years); every
midpoint is a normal draw seeded by (symbol, level, index). So the price at any minute needs ~20 hash draws, no state
and no walk from the epoch, and the web process, every worker and every test agree on the price at time t.

Per-asset volatility is realistic (annualised: BTC 60 %, ETH 75 %, SOL 100 %, ...). Candles come from the same path:
open = previous minute's close, close = this minute's close, high/low widened by seeded intra-minute noise, volume
lognormal. Tickers interpolate within the minute and quote a spread.

Stocks (US equities in USD, NSE shares in INR; trading.sessions lists them) move only during their market's session
(trading.sessions): while the market is closed the price stands at the last session's close and the candles are flat
(open = high = low = close, volume 0), so charts and strategies see an unbroken series of candles; the first candle
after the open may gap from the previous close. Fiat pairs (USD/INR, ZAR/INR, ...) are the fixed reference rates of
QUOTES_PER_USD, the rates every other price of this feed is converted with.
The clock is trading.sessions.now (tests replace it).
"""

import hashlib
import math
import struct
from decimal import Decimal
from functools import lru_cache

from trading import sessions

ERA_BITS = 20
ERA_MINUTES = 1 << ERA_BITS
MINUTES_PER_YEAR = 525_600
ERA_SPREAD = 0.15  # sd of the log-price at era boundaries around the reference price
REVERSION_MINUTES = 43_200  # above ~30 days the path stops widening: prices stay near their reference levels

# Reference prices in USD and annualised volatility per base asset.
ASSETS = {
    "BTC": (65_000.0, 0.60),
    "ETH": (3_250.0, 0.75),
    "SOL": (150.0, 1.00),
    "XRP": (0.60, 0.90),
    "BNB": (600.0, 0.60),
    "USDT": (1.0, 0.01),
}
QUOTES_PER_USD = {"USD": 1.0, "USDT": 1.0, "ZAR": 18.5, "INR": 83.5}
SPREAD = {"BTC": 0.0004, "ETH": 0.0005, "SOL": 0.0008, "XRP": 0.0010, "BNB": 0.0006, "USDT": 0.0002}
FIAT_SPREAD = 0.0002
# Stocks: (reference price in the home currency, home currency, annualised volatility, spread). Their volatility is per
# calendar minute of the path, like the crypto assets': the path only advances during sessions (see above).
STOCKS = {
    "AAPL": (230.0, "USD", 0.25, 0.0002),
    "MSFT": (420.0, "USD", 0.22, 0.0002),
    "TSLA": (250.0, "USD", 0.55, 0.0003),
    "SPY": (570.0, "USD", 0.15, 0.0001),
    "RELIANCE": (1_300.0, "INR", 0.22, 0.0004),
    "TCS": (4_000.0, "INR", 0.20, 0.0004),
    "INFY": (1_800.0, "INR", 0.24, 0.0004),
    "HDFCBANK": (1_700.0, "INR", 0.20, 0.0004),
    "SBIN": (800.0, "INR", 0.26, 0.0005),
    "NIFTY": (24_000.0, "INR", 0.14, 0.0002),
}
for _name, (_price, _home, _vol, _spread) in STOCKS.items():
    ASSETS[_name] = (_price / QUOTES_PER_USD[_home], _vol)
    SPREAD[_name] = _spread
# The session of each base asset that has one (the stocks); the others trade around the clock.
SESSION_OF = {name: sessions.session_for(name) for name in ASSETS if sessions.session_for(name) is not None}
TIMEFRAMES = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440}


class UnknownSymbol(ValueError):
    pass


def split_symbol(symbol):
    try:
        base, quote = symbol.upper().split("/")
    except ValueError as exc:
        raise UnknownSymbol(f"symbol must look like BASE/QUOTE, got {symbol!r}") from exc
    fiat = base in QUOTES_PER_USD and base not in ASSETS
    if (base not in ASSETS and not fiat) or quote not in QUOTES_PER_USD:
        raise UnknownSymbol(f"the simulated market has no {symbol}")
    return base, quote


def _normal(*key):
    """A standard normal draw determined by key (Box-Muller over a BLAKE2 hash)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).digest()
    a, b = struct.unpack("<QQ", digest)
    u1 = (a + 1) / 18446744073709551617.0
    u2 = b / 18446744073709551616.0
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _uniform(*key):
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return struct.unpack("<Q", digest)[0] / 18446744073709551616.0


def _sigma_minute(base):
    return ASSETS[base][1] / math.sqrt(MINUTES_PER_YEAR)


@lru_cache(maxsize=4096)
def _era_anchor(base, era):
    return ERA_SPREAD * _normal(base, "era", era)


@lru_cache(maxsize=200_000)
def _log_offset(base, minute):
    """Log-price offset from the reference price at the close of ``minute`` (minutes since the epoch)."""
    era, position = divmod(minute, ERA_MINUTES)
    left_value, right_value = _era_anchor(base, era), _era_anchor(base, era + 1)
    if position == 0:
        return left_value
    sigma = _sigma_minute(base)
    lo, hi = 0, ERA_MINUTES
    while True:
        mid = (lo + hi) // 2
        span = hi - lo
        scale = math.sqrt(min(span, REVERSION_MINUTES) / 4)
        mid_value = (left_value + right_value) / 2 + sigma * scale * _normal(base, era, span, lo)
        if position == mid:
            return mid_value
        if position < mid:
            hi, right_value = mid, mid_value
        else:
            lo, left_value = mid, mid_value


def _usd_price(base, minute):
    return ASSETS[base][0] * math.exp(_log_offset(base, minute))


def close_at(symbol, minute):
    """Close price (float) of the one-minute candle ending at ``minute``; a stock's stands still while its market is
    closed (the last session's close)."""
    base, quote = split_symbol(symbol)
    if base not in ASSETS:  # a fiat pair: the fixed reference rate
        return QUOTES_PER_USD[quote] / QUOTES_PER_USD[base]
    session = SESSION_OF.get(base)
    if session is not None:
        minute = sessions.price_minute(session, minute)
    return _usd_price(base, minute) * QUOTES_PER_USD[quote]


def price_at(symbol, ts=None):
    """Mid price (float) at unix time ``ts`` (seconds), interpolated within the minute."""
    ts = sessions.now() if ts is None else ts
    minute = int(ts // 60)
    frac = (ts - minute * 60) / 60.0
    previous, current = close_at(symbol, minute - 1), close_at(symbol, minute)
    return previous + (current - previous) * frac


def _decimals(price):
    if price >= 1000:
        return 2
    if price >= 1:
        return 4
    return 6


def to_decimal(value, price_hint=None):
    places = _decimals(price_hint if price_hint is not None else value)
    return Decimal(str(round(value, places)))


def ticker(symbol, now=None):
    """{"symbol","bid","ask","last","timestamp"} with Decimal prices."""
    now = sessions.now() if now is None else now
    mid = price_at(symbol, now)
    return {**quote(symbol, mid), "timestamp": int(now * 1000)}


def quote(symbol, mid):
    """{"symbol","bid","ask","last"} around ``mid``: the asset's spread, prices rounded like every feed price."""
    base, _quote = split_symbol(symbol)
    half = mid * SPREAD.get(base, FIAT_SPREAD) / 2
    return {
        "symbol": symbol.upper(),
        "bid": to_decimal(mid - half, mid),
        "ask": to_decimal(mid + half, mid),
        "last": to_decimal(mid, mid),
    }


def _minute_candle(symbol, base, minute):
    open_ = close_at(symbol, minute - 1)
    close = close_at(symbol, minute)
    session = SESSION_OF.get(base)
    if base not in ASSETS or (session is not None and not sessions.in_session(session, minute)):
        return close, close, close, close, 0.0  # a closed market (or a fixed rate): a flat candle, no volume
    sigma = _sigma_minute(base)
    high = max(open_, close) * (1 + abs(_normal(base, "hi", minute)) * sigma * 0.5)
    low = min(open_, close) * (1 - abs(_normal(base, "lo", minute)) * sigma * 0.5)
    volume = math.exp(_normal(base, "vol", minute) * 0.6) * (1 + abs(close / open_ - 1) / sigma)
    return open_, high, low, close, volume


@lru_cache(maxsize=16384)
def _closed_candle(symbol, base, start, step):
    """One closed candle of ``step`` minutes from minute ``start``: (open, high, low, close, volume). The path is
    deterministic and a closed candle never changes, so each is computed once per process (an hour candle is 60 minute
    candles: the bot engine asks for the last 100 of every market it ticks, every few seconds)."""
    parts = [_minute_candle(symbol, base, m) for m in range(start, start + step)]
    return parts[0][0], max(p[1] for p in parts), min(p[2] for p in parts), parts[-1][3], sum(p[4] for p in parts)


def ohlcv(symbol, timeframe="1m", limit=100, now=None):
    """The last ``limit`` closed candles [timestamp_ms, open, high, low, close, volume] (Decimal prices)."""
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"timeframe must be one of {', '.join(TIMEFRAMES)}")
    limit = max(1, min(int(limit), 1000))
    base, _quote = split_symbol(symbol)
    step = TIMEFRAMES[timeframe]
    now = sessions.now() if now is None else now
    last_closed = int(now // 60) // step * step - step  # start minute of the last closed candle
    candles = []
    for index in range(limit - 1, -1, -1):
        start = last_closed - index * step
        open_, high, low, close, volume = _closed_candle(symbol, base, start, step)
        candles.append(
            [
                start * 60_000,
                to_decimal(open_, close),
                to_decimal(high, close),
                to_decimal(low, close),
                to_decimal(close, close),
                Decimal(str(round(volume, 4))),
            ]
        )
    return candles
