"""GET /api/wallet/balances.

- testing mode: the paper balances of every catalogue platform (created on first use with the starting balance);
- live_trading / autopilot: each platform with stored keys (not known to be invalid), read from the exchange through the
  adapter; several accounts on one platform are summed. A platform that fails is left out and named in "errors".

Per provider the total (free + used) of each currency. ``total_value`` converts the holdings into the user's base
currency with trading.valuation (the one conversion every aggregate uses, also the dashboard's total capital), and
``total_value_zar`` into ZAR; a currency no market prices is left out of both and listed in "unpriced".
"""

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from accounts.models import LIVE_MODES, User
from amarktai.errors import AmarktaiError
from amarktai.utils import money
from trading.platforms import PLATFORMS
from trading.valuation import Bag, Valuation, add
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


AllocationProvider = Callable[[User, str], dict[str, dict[str, dict[str, Any]]]]
_allocations: list[AllocationProvider] = []


def register_allocations(provider: AllocationProvider) -> None:
    """The bots app (above wallets) says what the user's bots hold of each account: ``provider(user, trading_mode) ->
    {provider: {currency: {"allocated": Decimal, "in_positions": Decimal, "bots": int}}}``."""
    if provider not in _allocations:
        _allocations.append(provider)


def _bot_allocations(user: User, trading_mode: str) -> dict[str, dict[str, dict[str, Any]]]:
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for provider in _allocations:
        for platform, currencies in provider(user, trading_mode).items():
            for currency, row in currencies.items():
                acc = merged.setdefault(platform, {}).setdefault(
                    currency, {"allocated": ZERO, "in_positions": ZERO, "bots": 0}
                )
                for key in acc:
                    acc[key] += row.get(key, 0)
    return merged


def allocation_rows(balances: Balances, bots: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per provider, for the currency its bots are given capital in (the platform's quote currency, and any other a
    bot draws on): what the account has free, what the user's bots have been allocated of it and not
    spent (``allocated``), what they hold in open positions (at cost, ``in_positions``) and what is left for new bots
    (``unallocated`` = free - allocated; negative when losses left the account short of the bots' capital)."""
    out: dict[str, dict[str, Any]] = {}
    none = {"allocated": ZERO, "in_positions": ZERO, "bots": 0}
    for provider in sorted(set(balances) | set(bots)):
        currencies = balances.get(provider, {})
        claims = bots.get(provider, {})
        platform = PLATFORMS.get(provider)
        quotes = {platform.quote} if platform is not None else set()  # what a bot there is given capital in
        for currency in sorted(quotes | set(claims)):
            claim = claims.get(currency, none)
            free = currencies.get(currency, {}).get("free", ZERO)
            out.setdefault(provider, {})[currency] = {
                "free": money(free),
                "allocated": money(claim["allocated"]),
                "in_positions": money(claim["in_positions"]),
                "unallocated": money(free - claim["allocated"]),
                "bots": claim["bots"],
            }
    return out


def wallet_balances(user: User) -> dict[str, Any]:
    """GET /api/wallet/balances (without the envelope): balances per provider; their total value in the user's base
    currency (``total_value``, with the valuation block: ``currency``, ``rates``, per-currency ``breakdown`` and what
    could not be priced, ``unpriced``, left out of the total) and in ZAR (``total_value_zar``, the contract's field);
    per provider and currency what the user's bots have been allocated (``allocations``) and, in the base currency,
    their capital (``allocated_to_bots``: unspent allocations plus open positions at cost, the dashboard's total
    capital for this mode's bots) and what is left for new bots (``unallocated``); the mode and the providers that
    could not be read."""
    balances, errors = provider_balances(user)
    mode = "paper" if is_paper(user) else "live"
    out: dict[str, dict[str, float]] = {}
    holdings: Bag = {}
    for provider, currencies in balances.items():
        out[provider] = {}
        for currency, row in currencies.items():
            out[provider][currency] = money(row["total"])
            add(holdings, currency, row["total"])
    allocations = _bot_allocations(user, mode)
    rows = allocation_rows(balances, allocations)
    given: Bag = {}
    left: Bag = {}
    for currencies in allocations.values():
        for currency, claim in currencies.items():
            add(given, currency, claim["allocated"] + claim["in_positions"])
    for currencies in rows.values():
        for currency, row in currencies.items():
            add(left, currency, Decimal(str(row["unallocated"])))
    valuation = Valuation.for_user(user)
    totals, block = valuation.report({"total_value": holdings, "allocated_to_bots": given, "unallocated": left})
    zar = (
        totals["total_value"]
        if valuation.currency == "ZAR"
        else money(Valuation("ZAR", valuation.source).convert(holdings).total, 2)
    )
    return {
        "balances": out,
        **totals,
        "total_value_zar": zar,
        **block,
        "allocations": rows,
        "mode": mode,
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
