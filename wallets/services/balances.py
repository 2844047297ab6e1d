"""GET /api/wallet/balances.

- testing mode: the paper balances of every catalogue platform (created on first use with the starting balance);
- live_trading / autopilot: each platform with stored keys (not known to be invalid), read from the exchange through the
  adapter; several accounts on one platform are summed. A platform that fails is left out and named in "errors".

Per provider the total (free + used) of each currency. total_value_zar prices every currency in ZAR from the market-data
source (trading.exchanges.market_data, mid of bid/ask):
  ZAR = 1; X/ZAR directly if that pair exists; else X/USDT x USDT/ZAR (USD counts as USDT). A currency that neither rule
  can price is excluded from the total and listed in "unpriced".
"""

import logging
from decimal import Decimal
from typing import Any

from accounts.models import LIVE_MODES, User
from amarktai.errors import AmarktaiError
from amarktai.utils import money
from trading.platforms import PLATFORMS
from wallets.selectors import usable_credentials

logger = logging.getLogger(__name__)

ZERO = Decimal("0")

Balances = dict[str, dict[str, dict[str, Decimal]]]  # {provider: {currency: {"free", "used", "total"}}}


def is_paper(user: User) -> bool:
    return user.system_mode not in LIVE_MODES


def provider_balances(user: User) -> tuple[Balances, dict[str, str]]:
    """({provider: {currency: {"free","used","total"}}}, {provider: error message})"""
    from trading.exchanges import get_exchange

    result: Balances = {}
    errors: dict[str, str] = {}
    if is_paper(user):
        for pid in PLATFORMS:
            result[pid] = get_exchange(user, pid, "paper").fetch_balance()
        return result, errors
    for cred in usable_credentials(user):
        try:
            balance = get_exchange(user, cred.platform, "live", credential=cred).fetch_balance()
        except AmarktaiError as exc:
            errors[cred.platform] = exc.message
            continue
        merged = result.setdefault(cred.platform, {})
        for currency, row in balance.items():
            acc = merged.setdefault(currency, {"free": ZERO, "used": ZERO, "total": ZERO})
            for field in ("free", "used", "total"):
                acc[field] += row[field]
    return result, errors


class ZarPricer:
    """Prices currencies in ZAR, memoised for one request."""

    def __init__(self) -> None:
        self.cache: dict[str, Decimal | None] = {"ZAR": Decimal(1)}

    def _mid(self, platform_id: str, symbol: str) -> Decimal | None:
        from trading.exchanges import market_data

        try:
            t = market_data(platform_id).fetch_ticker(symbol)
        except Exception:  # noqa: BLE001 - no such pair / feed unavailable: the caller tries the next rule
            return None
        bid, ask, last = t.get("bid"), t.get("ask"), t.get("last")
        if bid and ask:
            return (Decimal(bid) + Decimal(ask)) / 2
        return Decimal(last) if last else None

    def zar(self, currency: str) -> Decimal | None:
        currency = currency.upper()
        if currency in self.cache:
            return self.cache[currency]
        price: Decimal | None = None
        if currency == "USD":
            price = self.zar("USDT")
        elif currency == "USDT":
            price = self._mid("valr", "USDT/ZAR")
        else:
            price = self._mid("luno", f"{currency}/ZAR")
            if price is None:
                usdt = self._mid("binance", f"{currency}/USDT")
                usdt_zar = self.zar("USDT")
                price = usdt * usdt_zar if usdt is not None and usdt_zar is not None else None
        self.cache[currency] = price
        return price


def wallet_balances(user: User) -> dict[str, Any]:
    """GET /api/wallet/balances (without the envelope): balances per provider, their ZAR total, what could not be priced
    and the providers that could not be read."""
    balances, errors = provider_balances(user)
    pricer = ZarPricer()
    total, unpriced = ZERO, set()
    out: dict[str, dict[str, float]] = {}
    for provider, currencies in balances.items():
        out[provider] = {}
        for currency, row in currencies.items():
            amount = row["total"]
            out[provider][currency] = money(amount)
            if not amount:
                continue
            rate = pricer.zar(currency)
            if rate is None:
                unpriced.add(currency)
            else:
                total += amount * rate
    return {
        "balances": out,
        "total_value_zar": money(total, 2),
        "mode": "paper" if is_paper(user) else "live",
        "unpriced": sorted(unpriced),
        "errors": errors,
    }


def available(user: User, provider: str, currency: str) -> Decimal:
    """Free balance of ``currency`` on ``provider`` in the user's current mode (Decimal; 0 if none)."""
    from trading.exchanges import get_exchange

    currency = currency.upper()
    if is_paper(user):
        row = get_exchange(user, provider, "paper").fetch_balance().get(currency)
        return row["free"] if row else ZERO
    free = ZERO
    for cred in usable_credentials(user, provider):
        row = get_exchange(user, provider, "live", credential=cred).fetch_balance().get(currency)
        free += row["free"] if row else ZERO
    return free
