"""Market subscriptions on the WebSocket: which markets a connection follows, the limits, and the channel-layer group of
each market.

A client sends ``{"type": "subscribe", "symbols": ["luno:BTC/ZAR", ...]}`` (a batch; ``unsubscribe`` the same) and the
server answers ``{"type": "subscribed", "symbols": [every market the connection now follows]}`` (``unsubscribed``
likewise), or an error message that names the problem: a malformed message or an unknown market (error_code
VALIDATION_ERROR, ``details`` per symbol) or a limit (error_code SUBSCRIPTION_LIMIT). A batch is all or nothing.

Limits (settings): MARKET_WS_MAX_SYMBOLS_PER_CONNECTION markets per connection and MARKET_WS_MAX_SYMBOLS_PER_USER
distinct markets per user over all of the user's connections, in every process: each connection keeps its list in
the Django cache (Redis in production) under the user's key, renewed every RENEW_SECONDS while it is open and dropped
when it closes (an entry of a connection that died without closing expires after ENTRY_TTL seconds).

A subscribed connection follows its markets in this process's hub (realtime.hub), to which the market app's
fan-out publishes ``market_update`` (coalesced to MARKET_UPDATES_PER_SECOND per market) and the market scan's
``signal``s once per message, whatever the number of subscribers. The market
is marked wanted (trading.marketcache.want, through the hook the market app registers, since realtime sits below
trading) at once and again on every renewal, so the market-data service streams it while anyone follows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache

SUBSCRIPTION_LIMIT = "SUBSCRIPTION_LIMIT"
RENEW_SECONDS = 30.0
ENTRY_TTL = 90.0
MAX_SYMBOL_LENGTH = 64
LOCK_WAIT_SECONDS = 1.0
LOCK_TTL_SECONDS = 5

# Set by the market app (market.apps): resolve("luno:btc/zar") -> ("luno", "BTC/ZAR") or raise ValueError(reason);
# want(exchange, symbol, ttl) marks the market wanted in trading.marketcache.
_resolve: Callable[[str], tuple[str, str]] | None = None
_want: Callable[[str, str, float], None] | None = None


def register(resolve: Callable[[str], tuple[str, str]], want: Callable[[str, str, float], None]) -> None:
    global _resolve, _want
    _resolve, _want = resolve, want


def wire(exchange: str, symbol: str) -> str:
    """The name of a market on the wire: ``"luno:BTC/ZAR"``."""
    return f"{exchange}:{symbol}"


def max_per_connection() -> int:
    return int(settings.MARKET_WS_MAX_SYMBOLS_PER_CONNECTION)


def max_per_user() -> int:
    return int(settings.MARKET_WS_MAX_SYMBOLS_PER_USER)


class SubscriptionError(Exception):
    def __init__(self, message: str, error_code: str = "VALIDATION_ERROR", details: dict | None = None) -> None:
        super().__init__(message)
        self.message, self.error_code, self.details = message, error_code, details

    def message_body(self) -> dict:
        body: dict[str, Any] = {"type": "error", "error": self.message, "error_code": self.error_code}
        if self.details:
            body["details"] = self.details
        return body


def parse(raw: Any) -> dict[str, tuple[str, str]]:
    """The batch's markets {wire name: (exchange, symbol)} in the order sent, or SubscriptionError naming each bad
    one."""
    if not isinstance(raw, list) or not raw:
        raise SubscriptionError('"symbols" must be a non-empty list of markets such as "luno:BTC/ZAR"')
    # A batch larger than a connection may hold is refused before any lookup (a flood costs nothing).
    if len(raw) > max_per_connection():
        raise SubscriptionError(
            f"A connection may subscribe to at most {max_per_connection()} markets; this batch has {len(raw)}",
            SUBSCRIPTION_LIMIT,
        )
    found: dict[str, tuple[str, str]] = {}
    errors: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, str) or not item or len(item) > MAX_SYMBOL_LENGTH or ":" not in item:
            errors[str(item)[:MAX_SYMBOL_LENGTH]] = 'expected "<exchange>:<SYMBOL>", e.g. "luno:BTC/ZAR"'
            continue
        try:
            if _resolve is None:
                raise ValueError("no markets are known to this server")
            exchange, symbol = _resolve(item)
        except ValueError as exc:
            errors[item] = str(exc)
            continue
        found[wire(exchange, symbol)] = (exchange, symbol)
    if errors:
        names = ", ".join(list(errors)[:5])
        raise SubscriptionError(f"Unknown or malformed market(s): {names}", details={"symbols": errors})
    return found


def normalize(item: Any) -> str:
    """The wire name of a market as this server spells it ("luno:btc/zar" -> "luno:BTC/ZAR"); the text itself when it
    names no known market."""
    text = str(item)[:MAX_SYMBOL_LENGTH]
    if _resolve is not None:
        try:
            return wire(*_resolve(text))
        except ValueError:
            pass
    return text


def _user_key(user_id: Any) -> str:
    return f"rt:mdsubs:{user_id}"


def _live(entries: dict, now: float) -> dict:
    return {channel: entry for channel, entry in entries.items() if entry.get("until", 0) > now}


def user_markets(user_id: Any, now: float | None = None, *, besides: str | None = None) -> set[str]:
    """The distinct markets the user's open connections follow (``besides``: except this connection's)."""
    now = time.time() if now is None else now
    entries = _live(cache.get(_user_key(user_id)) or {}, now)
    return {name for channel, entry in entries.items() if channel != besides for name in entry["symbols"]}


def check_limits(user_id: Any, channel: str, current: Iterable[str], adding: Iterable[str]) -> list[str]:
    """The connection's market list after adding ``adding``, or SubscriptionError past a limit."""
    mine = list(current)
    after = mine + [name for name in adding if name not in mine]
    if len(after) > max_per_connection():
        raise SubscriptionError(
            f"A connection may subscribe to at most {max_per_connection()} markets: this one follows {len(mine)} and "
            f"the batch would make it {len(after)}. Unsubscribe from some first.",
            SUBSCRIPTION_LIMIT,
        )
    others = user_markets(user_id, besides=channel)
    total = len(others | set(after))
    if total > max_per_user():
        raise SubscriptionError(
            f"A user may subscribe to at most {max_per_user()} markets over all connections: the batch would make it "
            f"{total}. Unsubscribe from some (here or on your other connections) first.",
            SUBSCRIPTION_LIMIT,
        )
    return after


def claim(user_id: Any, channel: str, current: Iterable[str], adding: Iterable[str]) -> list[str]:
    """check_limits and record in one step, under the user's lock: two connections of a user subscribing at the same
    moment (in any processes) cannot both pass the per-user limit. Returns the connection's new list."""
    lock = _user_key(user_id) + ":lock"
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while not cache.add(lock, 1, timeout=LOCK_TTL_SECONDS):
        if time.monotonic() > deadline:
            break  # a holder that died: its lock expires on its own; go ahead rather than refuse the client
        time.sleep(0.01)
    try:
        after = check_limits(user_id, channel, current, adding)
        record(user_id, channel, after)
        return after
    finally:
        cache.delete(lock)


def record(user_id: Any, channel: str, symbols: list[str], now: float | None = None) -> None:
    """Keep (or, with no symbols, drop) the connection's list under the user's key, valid ENTRY_TTL seconds."""
    now = time.time() if now is None else now
    key = _user_key(user_id)
    entries = _live(cache.get(key) or {}, now)
    if symbols:
        entries[channel] = {"symbols": list(symbols), "until": now + ENTRY_TTL}
    else:
        entries.pop(channel, None)
    if entries:
        cache.set(key, entries, timeout=int(ENTRY_TTL * 2))
    else:
        cache.delete(key)


def want(markets: Iterable[tuple[str, str]]) -> None:
    """Mark the markets wanted for a while longer than the renewal period (trading.marketcache.want)."""
    if _want is None:
        return
    for exchange, symbol in markets:
        _want(exchange, symbol, ENTRY_TTL)
