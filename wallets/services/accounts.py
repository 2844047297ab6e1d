"""Trading accounts (/api/accounts): a user's named accounts, several per platform, each live (its own encrypted API
keys: a wallets.ExchangeCredential) or paper (no keys; its own simulated balances in the paper exchange). Create,
rename, change keys, delete, test the connection (recorded as the account's health), read its funds, positions and
orders, and place an order on it. Everything through the account's own exchange: ``get_exchange(..., credential=
account)``. Reads of the account rows are in wallets.selectors, the response shape in wallets.payloads."""

import logging
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import LIVE_MODES, User
from amarktai.errors import AmarktaiError, Conflict, ValidationFailed
from amarktai.utils import money
from trading import selectors as trading_selectors
from trading import services as trading
from trading.exchanges import get_exchange
from trading.models import Order, OrderStatus
from trading.valuation import Bag, Valuation, add
from wallets.models import ExchangeCredential
from wallets.selectors import access_account
from wallets.services import credentials

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
ERROR_LENGTH = 255


def create_account(
    user: Any,
    *,
    name: str,
    platform: str,
    trading_mode: str = "paper",
    starting_balance: Decimal | None = None,
    api_key: str = "",
    api_secret: str = "",
    passphrase: str = "",
    extra: dict[str, str] | None = None,
    testnet: bool = False,
    accept_withdraw: bool = False,
) -> ExchangeCredential:
    """A new account. Live: the platform's keys (checked as POST /api/keys checks them; test them with
    test_account). Paper: no keys; it opens with ``starting_balance`` of the platform's quote currency (default:
    PAPER_STARTING_BALANCES) and is healthy at once."""
    found = credentials.platform_or_error(platform)
    if trading_mode == "live":
        if not api_key:
            raise ValidationFailed("A live account needs its API key", details={"api_key": ["required"]})
        if starting_balance is not None:
            raise ValidationFailed(
                "Only a paper account has a starting balance", details={"starting_balance": ["paper accounts only"]}
            )
        return credentials.create_credential(
            user,
            found.id,
            api_key,
            api_secret,
            passphrase,
            name,
            extra=extra,
            testnet=testnet,
            accept_withdraw=accept_withdraw,
        )
    given = [f for f, v in (("api_key", api_key), ("api_secret", api_secret), ("passphrase", passphrase)) if v]
    if given or extra or testnet:
        named = given or (["extra"] if extra else ["testnet"])
        raise ValidationFailed(
            "A paper account has no API keys", details={field: ["paper accounts have no keys"] for field in named}
        )
    with transaction.atomic():
        account = ExchangeCredential(
            user=user,
            platform=found.id,
            label=name,
            trading_mode="paper",
            api_key_enc="",
            api_secret_enc="",
            keys_valid=True,
            last_checked_at=timezone.now(),
        )
        account.save()
        trading.open_paper_account(user, account, starting_balance)
    credentials._changed(user)
    logger.info("user %s opened paper account %s on %s", user.pk, account.pk, found.id)
    return account


KEY_FIELDS = ("api_key", "api_secret", "passphrase", "extra", "testnet", "accept_withdraw")


def update_account(user: Any, account_id: Any, **fields: Any) -> ExchangeCredential:
    """Rename an account (``name``); a live account's keys may change too (its health is then untested)."""
    account = access_account(user, account_id)
    keys = {name: fields[name] for name in KEY_FIELDS if name in fields}
    if account.is_paper:
        if keys:
            raise ValidationFailed(
                "A paper account has no API keys", details={name: ["paper accounts have no keys"] for name in keys}
            )
        ExchangeCredential.objects.owned_by(user).filter(pk=account.pk).update(
            label=fields.get("name", account.label), updated_at=timezone.now()
        )
        account.refresh_from_db()
        return account
    if "name" in fields:
        keys["label"] = fields["name"]
    updated = credentials.update_credential(user, account.pk, **keys)
    if any(name in keys for name in ("api_key", "api_secret", "passphrase", "extra", "testnet")):
        ExchangeCredential.objects.filter(pk=updated.pk).update(last_error="")
        updated.last_error = ""
    return updated


def delete_account(user: Any, account_id: Any) -> None:
    """Delete an account (a paper account's balances and paper orders with it). Refused (Conflict) while it has open
    orders or open positions: cancel or close them first. Filled orders and trades stay in the history."""
    with transaction.atomic():
        account = access_account(user, account_id, lock=True)
        if Order.objects.owned_by(user).filter(account=account, status=OrderStatus.OPEN).exists():
            raise Conflict("This account has open orders: cancel them before deleting it")
        if trading_selectors.valued_positions(user, prices={}, account=account):
            raise Conflict("This account has open positions: close them before deleting it")
        account.delete()
    credentials._changed(user)
    logger.info("user %s deleted account %s", user.pk, account_id)


def _record_health(account: ExchangeCredential, ok: bool | None, error: str, permissions: Any = None) -> None:
    """Store a test's outcome: keys_valid (None: unknown, the exchange could not be reached), when, and why not."""
    now = timezone.now()
    update: dict[str, Any] = {"keys_valid": ok, "last_checked_at": now, "last_error": error[:ERROR_LENGTH]}
    if permissions is not None or ok is not None:
        update["permissions"] = permissions
    ExchangeCredential.objects.filter(pk=account.pk).update(**update)
    for field, value in update.items():
        setattr(account, field, value)


def check_connection(user: Any, account_id: Any) -> dict[str, Any]:
    """POST /api/accounts/{id}/test: connect to the account and record the outcome as its health. A live account's
    keys go through the platform's adapter (an authenticated call; keys that can withdraw fail unless accepted); a
    paper account reads its own balances. Never raises for a failed connection: returns {"ok": False, "message"}
    (the account's health says the same)."""
    account = access_account(user, account_id)
    result: dict[str, Any] = {}
    if account.is_paper:
        try:
            get_exchange(user, account.platform, "paper", credential=account).fetch_balance()
        except AmarktaiError as exc:
            _record_health(account, False, exc.message)
            return {"ok": False, "message": exc.message, "permissions": None}
        _record_health(account, True, "")
        message = "Paper account ready"
    else:
        try:
            result = credentials.validate_keys(account)
            credentials._check_withdraw(result, account.withdraw_accepted)
        except ValidationFailed as exc:  # the exchange refused the keys (or they can withdraw and were not accepted)
            _record_health(account, False, exc.message)
            return {"ok": False, "message": exc.message, "permissions": None}
        except AmarktaiError as exc:  # could not be reached: the keys' validity is unknown
            _record_health(account, None, exc.message)
            return {"ok": False, "message": exc.message, "permissions": None}
        _record_health(account, True, "", result.get("permissions"))
        message = "Connection successful"
    credentials._changed(user)
    return {"ok": True, "message": message, "permissions": result.get("permissions")}


def account_funds(user: Any, account_id: Any) -> dict[str, Any]:
    """GET /api/accounts/{id}/funds: the account's balances as its exchange reports them ({currency: {free, used,
    total}}) and their total in the user's base currency (with the valuation block)."""
    account = access_account(user, account_id)
    exchange = get_exchange(user, account.platform, "live" if not account.is_paper else "paper", credential=account)
    balance = exchange.fetch_balance()
    holdings: Bag = {}
    rows: dict[str, dict[str, float | None]] = {}
    for currency, row in sorted(balance.items()):
        rows[currency] = {"free": money(row["free"]), "used": money(row["used"]), "total": money(row["total"])}
        add(holdings, currency, row["total"])
    totals, block = Valuation.for_user(user).report({"total_value": holdings})
    return {
        "account_id": str(account.pk),
        "trading_mode": account.trading_mode,
        "balances": rows,
        **totals,
        **block,
    }


def account_positions(user: Any, account_id: Any) -> dict[str, Any]:
    """GET /api/accounts/{id}/positions: the open positions on the account, as GET /api/positions shows them."""
    account = access_account(user, account_id)
    return trading_selectors.positions_report(user, account=account)


def account_orders(
    user: Any, account_id: Any, *, status: str | None = None, limit: int = 100
) -> tuple[list[Order], dict[str, list[Order]], int]:
    """GET /api/accounts/{id}/orders: the orders placed on the account (newest first; split ones with their parts)."""
    account = access_account(user, account_id)
    orders, total = trading_selectors.orders_page(user, status=status, limit=limit, account=account)
    return orders, trading_selectors.children_of(orders), total


def place_account_order(user: Any, account_id: Any, **order: Any) -> Order:
    """POST /api/accounts/{id}/orders: a manual order on this account (trading.services.manual_order with
    ``account``): a paper account's own book, a live account's keys (live modes only)."""
    account = access_account(user, account_id)
    if not account.is_paper and user.system_mode not in LIVE_MODES:
        raise ValidationFailed(
            "This is a live account: switch the system mode to live to trade on it",
            details={"account_id": ["live account while in testing mode"]},
        )
    return trading.manual_order(user, exchange=account.platform, account=account, **order)


def account_pnl(user: Any, account_id: Any) -> dict[str, Any]:
    """The P&L of one trading account in the user's base currency, as the per-account SSE stream's pnl_update carries
    it: {"scope": "trading_account", "account_id", "total_pnl", "realised_pnl" (its trades' realised P&L),
    "unrealised_pnl" (its open positions at the current price), "daily_pnl" (realised since 00:00 UTC),
    "open_positions", "positions_without_price", <valuation block>}."""
    if not isinstance(user, User):  # the SSE stream passes the user's id
        user = User.objects.get(pk=user)
    account = access_account(user, account_id)
    valuation = Valuation.for_user(user)
    positions = trading_selectors.positions_report(user, valuation, account=account)
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    totals, block = valuation.report(
        {
            "realised_pnl": trading_selectors.realised_by_currency(user, account),
            "daily_pnl": trading_selectors.realised_by_currency(user, account, since=midnight),
        }
    )
    unrealised = positions["unrealised_pnl"]
    return {
        "scope": "trading_account",
        "account_id": str(account.pk),
        "total_pnl": money(Decimal(str(totals["realised_pnl"])) + Decimal(str(unrealised)), 2),
        "realised_pnl": totals["realised_pnl"],
        "unrealised_pnl": unrealised,
        "daily_pnl": totals["daily_pnl"],
        "open_positions": positions["total"],
        "positions_without_price": positions["no_price"],
        **block,
    }


def owns_account(user: Any, account_id: Any) -> bool:
    """Whether ``account_id`` is one of the user's trading accounts (the per-account SSE stream's 404 check)."""
    try:
        access_account(user, account_id)
    except AmarktaiError:
        return False
    return True
