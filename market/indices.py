"""The platform's reference indices (GET /api/market/indices, ``index_update``), computed from the cached tickers.

- One crypto index per quote currency of the crypto platforms (``crypto-zar``, ``crypto-usdt``, ``crypto-usd``): up to
  TOP constituents, the crypto assets quoted in that currency on any platform, ranked by their last day's traded value
  in the quote currency when the tickers carry it (else by the asset's reference price).
- One index per stock platform (``stocks-alpaca``, ...): the shares it lists.

Each index is equal-weighted over its constituents with a fixed base: value = BASE x the mean of last / reference,
the reference being each asset's reference price in the quote currency (trading.exchanges.simfeed), so an index at 1000
stands where the references are. A constituent's price is the mean of the fresh cached tickers of every platform that
lists it (trading.marketcache, no older than stale_seconds()); change_pct compares with the same mean of the prices a
day ago (the tickers' own 24 h change, else their hourly candles). A constituent without a fresh ticker is left out
(listed in ``missing``); an index none of whose constituents has one has value null.

compute() reads only the cache (a request never waits for an exchange). refresh() (beat every MARKET_INDEX_SECONDS;
the embedded scheduler in process) first fetches the constituents' tickers that are missing or stale (market.quotes,
written back to the cache), marks them wanted, then computes and broadcasts each index as ``index_update``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from amarktai.utils import iso
from market import quotes
from realtime import events
from trading import marketcache
from trading.exchanges import simfeed
from trading.platforms import PLATFORMS

logger = logging.getLogger(__name__)

TOP = 10
BASE = 1000.0


def _reference(base: str, quote: str) -> float:
    return simfeed.ASSETS[base][0] * simfeed.QUOTES_PER_USD[quote]


def definitions() -> list[dict]:
    """Every index: {"id", "name", "quote", "kind", "markets": {asset: [(exchange, symbol), ...]}}."""
    crypto: dict[str, dict[str, list[tuple[str, str]]]] = {}
    stocks = []
    for platform in PLATFORMS.values():
        if not platform.enabled:
            continue
        if platform.kind == "stock":
            by_asset: dict[str, list[tuple[str, str]]] = {}
            for symbol in platform.symbols:
                base, quote = symbol.split("/")
                if base in simfeed.STOCKS:
                    by_asset.setdefault(base, []).append((platform.id, symbol))
            if by_asset:
                quote = next(iter(by_asset.values()))[0][1].split("/")[1]
                stocks.append(
                    {
                        "id": f"stocks-{platform.id}",
                        "name": f"{platform.name} shares",
                        "quote": quote,
                        "kind": "stocks",
                        "markets": by_asset,
                    }
                )
            continue
        for symbol in platform.symbols:
            base, quote = symbol.split("/")
            if base in simfeed.ASSETS and base not in simfeed.STOCKS and base != quote:
                crypto.setdefault(quote, {}).setdefault(base, []).append((platform.id, symbol))
    indices = [
        {
            "id": f"crypto-{quote.lower()}",
            "name": f"Top {TOP} crypto ({quote})",
            "quote": quote,
            "kind": "crypto",
            "markets": crypto[quote],
        }
        for quote in sorted(crypto)
    ]
    return indices + stocks


def _asset_prices(markets: list[tuple[str, str]]) -> tuple[float, float | None, float, float] | None:
    """(last, price a day ago or None, traded value of the day or 0, newest entry time) over the platforms that have
    a fresh ticker of the asset, or None when none has."""
    lasts, opens, values, ats = [], [], [], []
    for exchange, symbol in markets:
        entry = marketcache.ticker_entry(exchange, symbol, max_age=marketcache.stale_seconds())
        if entry is None:
            continue
        ticker = quotes._with_day(exchange, symbol, entry["ticker"], fetch=False)
        q = quotes.quote_payload(exchange, symbol, ticker, entry["at"], "cache", entry["at"])
        if q["last"] is None or q["last"] <= 0:
            continue
        lasts.append(q["last"])
        ats.append(float(entry["at"]))
        if q["change_pct"] is not None and q["change_pct"] > -100:
            opens.append(q["last"] / (1 + q["change_pct"] / 100))
        if q["volume"]:
            values.append(q["volume"] * q["last"])
    if not lasts:
        return None
    opened = sum(opens) / len(opens) if len(opens) == len(lasts) else None
    return sum(lasts) / len(lasts), opened, sum(values), max(ats)


def _index(definition: dict) -> dict:
    quote = definition["quote"]
    priced: list[tuple[str, float, float | None, float, float]] = []
    missing = []
    for asset, markets in definition["markets"].items():
        found = _asset_prices(markets)
        if found is None:
            missing.append(asset)
        else:
            priced.append((asset, *found))
    if definition["kind"] == "crypto":
        # The largest by the day's traded value (else reference price), TOP of them.
        priced.sort(key=lambda p: (-p[3], -_reference(p[0], quote)))
        priced = priced[:TOP]
    value = change = stamp = None
    if priced:
        ratios = [last / _reference(asset, quote) for asset, last, _o, _v, _a in priced]
        value = round(BASE * sum(ratios) / len(ratios), 4)
        if all(o is not None for _a, _l, o, _v, _t in priced):
            before = [o / _reference(asset, quote) for asset, _l, o, _v, _t in priced]  # type: ignore[operator]
            change = round((sum(ratios) / sum(before) - 1) * 100, 4)
        stamp = iso(datetime.fromtimestamp(max(p[4] for p in priced), UTC))
    return {
        "id": definition["id"],
        "name": definition["name"],
        "quote": quote,
        "kind": definition["kind"],
        "value": value,
        "change_pct": change,
        "constituents": [
            {"asset": asset, "price": round(last, 8), "weight": round(1 / len(priced), 6)}
            for asset, last, _o, _v, _t in priced
        ],
        "missing": sorted(missing),
        "timestamp": stamp,
    }


def compute() -> list[dict]:
    """Every index from the cached tickers only."""
    return [_index(d) for d in definitions()]


def refresh() -> list[dict]:
    """Fetch the constituents' missing or stale tickers (written back to the cache), mark them wanted, compute every
    index and broadcast each as ``index_update``. Returns the indices."""
    for definition in definitions():
        for markets in definition["markets"].values():
            for exchange, symbol in markets:
                marketcache.want(exchange, symbol)
                if marketcache.ticker_entry(exchange, symbol, max_age=marketcache.stale_seconds()) is None:
                    try:
                        quotes.quote(exchange, symbol)
                    except Exception:  # one market's failure leaves it out of its index this round
                        logger.warning("indices: no ticker for %s %s", exchange, symbol, exc_info=True)
    result = compute()
    for index in result:
        events.broadcast(events.INDEX_UPDATE, index)
    return result
