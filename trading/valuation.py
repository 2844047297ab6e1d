"""One place that turns amounts in several currencies into one: the user's base currency.

Every aggregate the platform shows (GET /api/metrics, the realtime overview_update and account pnl_update, the
dashboard's figures and P&L chart, the wallet's total value, the assistant's totals) is built from per-currency amounts
("bags": {currency: Decimal}) and converted here, never added up across currencies.

Rates come from the market-data layer (``trading.exchanges.market_data`` with settings.MARKET_DATA_SOURCE): the
simulated feed in the embedded default, the exchanges' public tickers when it is "live". One unit of a currency C is
worth, in the base B:

  1 when C is B; else the mid (bid+ask)/2 of a market C/B, or 1 / the mid of B/C; else through reference currencies
  (USDT, ZAR, BTC, USD, INR, in that order of preference, at most two): C->R x R->B, each leg a direct or inverse
  market.
  (USD->ZAR, for instance, is BTC/ZAR / BTC/USD: no USD/ZAR market is listed.)

The markets that exist are the catalogue's (``trading.platforms``) plus the reference quotes below (USDT/ZAR) and two
fiat reference rates, USD/INR and ZAR/INR (venue "fx"): no exchange in the catalogue quotes the rupee against another
fiat currency, so INR cash and the NSE shares of Indian brokers are converted at the simulated feed's fixed reference
rates (trading.exchanges.simfeed.QUOTES_PER_USD) whatever the source; US shares go through their USD quote. A mid is
kept for RATE_TTL_SECONDS per (source, platform, market), failures too, so a page of figures costs a handful of
lookups. A currency no rule can price is reported as unpriced with its amount and left out of every total: a sum
never mixes currencies and never invents a rate.
"""

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.models import BASE_CURRENCIES
from amarktai.utils import money
from trading.platforms import PLATFORMS

ZERO = Decimal("0")
ONE = Decimal("1")
RATE_TTL_SECONDS = 10.0
RATE_PLACES = 8
REFERENCES = ("USDT", "ZAR", "BTC", "USD", "INR")
MAX_HOPS = 2  # reference currencies between a currency and the base: at most three markets per rate
# Markets outside the bots' catalogue that exist on these exchanges and serve as reference quotes for conversion.
FX_VENUE = "fx"
REFERENCE_MARKETS = (("valr", "USDT/ZAR"), ("luno", "USDT/ZAR"), (FX_VENUE, "USD/INR"), (FX_VENUE, "ZAR/INR"))

Bag = dict[str, Decimal]  # {currency: amount}
PriceLookup = Callable[[str, str, str], Decimal | None]  # (source, platform_id, symbol) -> mid or None


def _markets() -> dict[tuple[str, str], tuple[str, ...]]:
    """{(base, quote): (platform ids listing that market, catalogue order)}."""
    out: dict[tuple[str, str], list[str]] = {}
    listed = [(pid, s) for pid, p in PLATFORMS.items() for s in p.symbols] + list(REFERENCE_MARKETS)
    for platform_id, symbol in listed:
        base, quote = symbol.upper().split("/")
        venues = out.setdefault((base, quote), [])
        if platform_id not in venues:
            venues.append(platform_id)
    return {pair: tuple(venues) for pair, venues in out.items()}


_markets_cache: dict[tuple, dict[tuple[str, str], tuple[str, ...]]] = {}


def markets() -> dict[tuple[str, str], tuple[str, ...]]:
    """The markets of the catalogue as it is now (platforms may be added at start-up, e.g. in tests)."""
    key = tuple((pid, p.symbols) for pid, p in PLATFORMS.items())
    found = _markets_cache.get(key)
    if found is None:
        _markets_cache.clear()
        found = _markets_cache[key] = _markets()
    return found


_cache: dict[tuple[str, str, str], tuple[float, Decimal | None]] = {}
_cache_lock = threading.Lock()


def fetch_mid(source: str, platform_id: str, symbol: str) -> Decimal | None:
    """The mid price of one market from the market-data layer, or None when it cannot be had (no such market, feed or
    exchange unavailable)."""
    from trading.exchanges import market_data, simfeed

    try:
        if platform_id == FX_VENUE:  # a fiat reference rate (see the module's docstring)
            ticker = simfeed.ticker(symbol)
        else:
            ticker = market_data(platform_id, source).fetch_ticker(symbol)
    except Exception:  # noqa: BLE001 - no such market / exchange unreachable: that market gives no rate
        return None
    bid, ask, last = ticker.get("bid"), ticker.get("ask"), ticker.get("last")
    if bid and ask:
        mid = (Decimal(str(bid)) + Decimal(str(ask))) / 2
    elif last:
        mid = Decimal(str(last))
    else:
        return None
    return mid if mid.is_finite() and mid > 0 else None


def cached_mid(source: str, platform_id: str, symbol: str) -> Decimal | None:
    key = (source, platform_id, symbol)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    mid = fetch_mid(source, platform_id, symbol)
    with _cache_lock:
        _cache[key] = (now + RATE_TTL_SECONDS, mid)
        if len(_cache) > 2048:
            for stale in [k for k, (expires, _) in _cache.items() if expires <= now]:
                del _cache[stale]
    return mid


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def default_source() -> str:
    """Where conversion rates come from: the market-data source (settings.MARKET_DATA_SOURCE: the simulated feed in the
    embedded default, the exchanges' public tickers with "live"). Positions are priced separately, by their own
    trading mode (``trading.exchanges.source_for``)."""
    from trading.exchanges import paper_source

    return paper_source()


def base_currency(user: Any) -> str:
    currency = (getattr(user, "currency", None) or "ZAR").upper()
    return currency if currency in BASE_CURRENCIES else "ZAR"


@dataclass
class Converted:
    """One aggregate: its native parts, the rates used and its total in ``currency`` (priced parts only)."""

    currency: str
    total: Decimal
    parts: Bag  # every currency's native amount
    rates: dict[str, Decimal]  # the rate of each priced currency (1 for the base)
    unpriced: Bag  # native amounts left out of the total: no rate


@dataclass
class Valuation:
    """Converts into ``currency`` with rates from ``source``. One instance per request or event: each rate is looked
    up once (and kept for RATE_TTL_SECONDS by the module's cache). ``lookup`` replaces the market-data lookup
    (tests)."""

    currency: str = "ZAR"
    source: str = "simulated"
    lookup: PriceLookup | None = None
    _rates: dict[str, Decimal | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.currency = self.currency.upper()

    @classmethod
    def for_user(cls, user: Any) -> "Valuation":
        return cls(currency=base_currency(user), source=default_source())

    # -- rates ---------------------------------------------------------------------------------------------------
    def _mid(self, base: str, quote: str) -> Decimal | None:
        for platform_id in markets().get((base, quote), ()):
            mid = (self.lookup or cached_mid)(self.source, platform_id, f"{base}/{quote}")
            if mid is not None:
                return mid
        return None

    def _leg(self, frm: str, to: str) -> Decimal | None:
        """One unit of ``frm`` in ``to`` through a single market (direct or inverse)."""
        if frm == to:
            return ONE
        mid = self._mid(frm, to)
        if mid is not None:
            return mid
        inverse = self._mid(to, frm)
        return ONE / inverse if inverse is not None else None

    def rate(self, currency: str) -> Decimal | None:
        """One unit of ``currency`` in the base currency, or None when no market prices it."""
        currency = currency.upper()
        if currency not in self._rates:
            self._rates[currency] = self._path(currency, MAX_HOPS, frozenset())
        return self._rates[currency]

    def _path(self, currency: str, hops: int, seen: frozenset) -> Decimal | None:
        """``currency`` in the base directly, else through up to ``hops`` reference currencies (first that works)."""
        direct = self._leg(currency, self.currency)
        if direct is not None or hops == 0:
            return direct
        for ref in REFERENCES:
            if ref in (currency, self.currency) or ref in seen:
                continue
            first = self._leg(currency, ref)
            if first is None:
                continue
            rest = self._path(ref, hops - 1, seen | {currency})
            if rest is not None:
                return first * rest
        return None

    # -- conversion ----------------------------------------------------------------------------------------------
    def convert(self, bag: Mapping[str, Decimal]) -> Converted:
        """The bag's total in the base currency: the sum of each priced currency's amount x its rate."""
        total, rates, unpriced, parts = ZERO, {}, {}, {}
        for currency, amount in bag.items():
            currency = currency.upper()
            amount = Decimal(amount)
            parts[currency] = parts.get(currency, ZERO) + amount
        for currency, amount in parts.items():
            if not amount:
                continue
            rate = self.rate(currency)
            if rate is None:
                unpriced[currency] = amount
                continue
            rates[currency] = rate
            total += amount * rate
        return Converted(self.currency, total, parts, rates, unpriced)

    def value(self, amount: Decimal, currency: str) -> Decimal | None:
        """One amount in the base currency, or None without a rate."""
        rate = self.rate(currency)
        return None if rate is None else Decimal(amount) * rate

    def report(self, figures: Mapping[str, Mapping[str, Decimal]], places: int = 2) -> tuple[dict[str, Any], dict]:
        """Several aggregates at once: ({figure: total as a JSON number}, the valuation block). The block says
        ``currency``, ``rates`` (each currency used, 1 unit in the base), ``rate_source``, ``breakdown`` ({currency:
        {figure: native amount}}) and ``unpriced`` ({currency: {figure: native amount}} left out of the totals)."""
        totals: dict[str, Any] = {}
        rates: dict[str, Decimal] = {}
        breakdown: dict[str, dict[str, float]] = {}
        unpriced: dict[str, dict[str, float]] = {}
        for name, bag in figures.items():
            converted = self.convert(bag)
            totals[name] = money(converted.total, places)
            rates.update(converted.rates)
            for currency, amount in converted.parts.items():
                if amount:
                    breakdown.setdefault(currency, {})[name] = money(amount, 8)
            for currency, amount in converted.unpriced.items():
                unpriced.setdefault(currency, {})[name] = money(amount, 8)
        return totals, self.block(rates, breakdown, unpriced)

    def block(self, rates: Mapping[str, Decimal], breakdown: dict, unpriced: dict) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "rate_source": self.source,
            "rates": {self.currency: 1.0, **{c: money(r, RATE_PLACES) for c, r in sorted(rates.items())}},
            "breakdown": dict(sorted(breakdown.items())),
            "unpriced": dict(sorted(unpriced.items())),
        }


def add(bag: Bag, currency: str, amount: Decimal | None) -> Bag:
    """Add ``amount`` of ``currency`` into ``bag`` (in place); returns the bag."""
    if amount is not None:
        currency = currency.upper()
        bag[currency] = bag.get(currency, ZERO) + Decimal(amount)
    return bag


def bag_of(pairs: Iterable[tuple[str, Decimal | None]]) -> Bag:
    bag: Bag = {}
    for currency, amount in pairs:
        add(bag, currency, amount)
    return bag


def quote_of(symbol: str) -> str:
    """The quote currency of a market symbol ("BTC/ZAR" -> "ZAR")."""
    return symbol.split("/")[1].upper() if "/" in symbol else symbol.upper()
