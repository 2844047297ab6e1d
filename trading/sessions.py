"""Trading sessions of the stock markets: when a symbol's market is open (the paper exchange fills nothing while it is
closed; the simulated feed's prices move only while it is open).

- US equities (NYSE/Nasdaq): 09:30-16:00 America/New_York, Monday to Friday: AAPL, MSFT, TSLA, SPY.
- NSE (India): 09:15-15:30 Asia/Kolkata, Monday to Friday: RELIANCE, TCS, INFY, HDFCBANK, SBIN, NIFTY.
- Everything else (crypto): around the clock, every day.

Exchange holidays, early closes and pre/post-market sessions are ignored: a weekday is a trading day. Daylight saving
is honoured (the session is defined in the exchange's own time zone).

``now()`` is the one clock of the simulated markets (this module, the simulated feed, the paper exchange's expiries);
tests replace it (monkeypatch ``trading.sessions.now``) to stand at a chosen moment.
"""

import datetime
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
DAY_MINUTES = 1440


def now() -> float:
    """Unix time in seconds: the clock of the simulated markets (tests replace it)."""
    return time.time()


@dataclass(frozen=True)
class Session:
    id: str
    name: str
    timezone: str
    open: datetime.time
    close: datetime.time
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0

    def describe(self) -> str:
        days = "Mon-Fri" if self.weekdays == (0, 1, 2, 3, 4) else ",".join(str(d) for d in self.weekdays)
        return f"{self.name} {self.open:%H:%M}-{self.close:%H:%M} {self.timezone} {days}"


SESSIONS = {
    "us_equities": Session("us_equities", "US equities", "America/New_York", datetime.time(9, 30), datetime.time(16)),
    "nse": Session("nse", "NSE", "Asia/Kolkata", datetime.time(9, 15), datetime.time(15, 30)),
}

# Stock symbols (base assets) and their market; the lot size is the smallest tradable quantity (and its step).
STOCKS: dict[str, tuple[str, Decimal]] = {
    "AAPL": ("us_equities", Decimal("1")),
    "MSFT": ("us_equities", Decimal("1")),
    "TSLA": ("us_equities", Decimal("1")),
    "SPY": ("us_equities", Decimal("1")),
    "RELIANCE": ("nse", Decimal("1")),
    "TCS": ("nse", Decimal("1")),
    "INFY": ("nse", Decimal("1")),
    "HDFCBANK": ("nse", Decimal("1")),
    "SBIN": ("nse", Decimal("1")),
    "NIFTY": ("nse", Decimal("75")),  # NSE's index derivatives trade in lots (75 units of the index)
}


def _base(symbol: str) -> str:
    return (symbol or "").upper().split("/")[0]


def is_stock(symbol: str) -> bool:
    return _base(symbol) in STOCKS


def session_for(symbol: str) -> Session | None:
    """The session of ``symbol``'s market, or None for a market that never closes (crypto)."""
    entry = STOCKS.get(_base(symbol))
    return SESSIONS[entry[0]] if entry else None


# The exchange's freeze quantity: the largest single order it takes (NSE's index derivatives: 1800 units of NIFTY, 24
# lots). Larger orders go out as several orders of at most this (trading.services.place_order, mirror.sizing.split);
# every stock adapter's market (``max_market_amount`` / ``max_amount``) states it from here.
FREEZE_QUANTITY: dict[str, Decimal] = {"NIFTY": Decimal("1800")}


def freeze_quantity(symbol: str) -> Decimal | None:
    """The freeze quantity of a stock market, None when the exchange states none for it."""
    return FREEZE_QUANTITY.get(_base(symbol))


def lot_size(symbol: str) -> Decimal | None:
    """The lot (whole shares: 1) of a stock market, None for markets traded in fractions (crypto)."""
    entry = STOCKS.get(_base(symbol))
    return entry[1] if entry else None


@lru_cache(maxsize=8192)
def _window(session_id: str, ordinal: int) -> tuple[int, int] | None:
    """(open, close) in minutes since the epoch of the session on the local date ``ordinal``; None on a closed day."""
    session = SESSIONS[session_id]
    day = datetime.date.fromordinal(ordinal)
    if day.weekday() not in session.weekdays:
        return None
    zone = ZoneInfo(session.timezone)
    opens = datetime.datetime.combine(day, session.open, tzinfo=zone).timestamp()
    closes = datetime.datetime.combine(day, session.close, tzinfo=zone).timestamp()
    return int(opens // 60), int(closes // 60)


@lru_cache(maxsize=8192)
def _windows_around(session_id: str, utc_day: int) -> tuple[tuple[int, int], ...]:
    """The sessions from six days before the UTC day ``utc_day`` (days since the epoch) to eight days after, in order:
    enough to find the last session before and the next one after any minute of that day (a weekend is two days)."""
    found = []
    for offset in range(-6, 9):
        window = _window(session_id, EPOCH_ORDINAL + utc_day + offset)
        if window is not None:
            found.append(window)
    return tuple(found)


def price_minute(session: Session | None, minute: int) -> int:
    """The minute whose price stands at ``minute``: the minute itself while the market is open, else the last minute
    of the latest session (prices do not move while the market is closed)."""
    if session is None:
        return minute
    for opens, closes in reversed(_windows_around(session.id, minute // DAY_MINUTES)):
        if opens <= minute:
            return minute if minute < closes else closes - 1
    return minute  # no session in the past week (cannot happen with weekday sessions)


def in_session(session: Session | None, minute: int) -> bool:
    """Whether the market trades during ``minute`` (minutes since the epoch)."""
    if session is None:
        return True
    return any(opens <= minute < closes for opens, closes in _windows_around(session.id, minute // DAY_MINUTES))


def _at(minute: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(minute * 60, tz=datetime.UTC)


def market_clock(symbol: str, at: float | None = None) -> dict:
    """{"is_open", "next_open", "next_close" (aware UTC datetimes or None), "session" (a description), "timezone"}.
    A market that never closes: is_open True and no next open or close."""
    session = session_for(symbol)
    if session is None:
        return {"is_open": True, "next_open": None, "next_close": None, "session": "24/7", "timezone": "UTC"}
    ts = now() if at is None else at
    minute = int(ts // 60)
    windows = _windows_around(session.id, minute // DAY_MINUTES)
    current = next(((o, c) for o, c in windows if o <= minute < c), None)
    upcoming = next(((o, c) for o, c in windows if o > minute), None)
    return {
        "is_open": current is not None,
        "next_open": _at(upcoming[0]) if upcoming else None,
        "next_close": _at(current[1] if current else upcoming[1]) if (current or upcoming) else None,
        "session": session.describe(),
        "timezone": session.timezone,
    }


def is_open(symbol: str, at: float | None = None) -> bool:
    session = session_for(symbol)
    return session is None or in_session(session, int((now() if at is None else at) // 60))


def day_end(symbol: str, at: float | None = None) -> datetime.datetime:
    """When a day order on ``symbol`` expires: the close of the session it is placed in (or of the next one when the
    market is closed); for a market that never closes, the next midnight UTC."""
    ts = now() if at is None else at
    clock = market_clock(symbol, ts)
    if clock["next_close"] is not None:
        return clock["next_close"]
    return _at((int(ts // 60) // DAY_MINUTES + 1) * DAY_MINUTES)
