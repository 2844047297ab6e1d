"""The transfer ledger. A transfer request is recorded (status "pending") with a correlation id; moving real funds
between exchanges is a manual step: Amarktai records the request and the user withdraws from one exchange and deposits
on the other, then marks it completed (no exchange of the catalogue moves funds to another exchange through its API).
On paper accounts completing it moves the paper funds. Transfer rows are never edited: status changes are appended
as TransferEvent rows and the current status is the latest event.

Reads (the list, one transfer, the pending amount) are in wallets.selectors; the response shapes in wallets.payloads.

Validation: both providers known and different; currency a plain ticker that both exchanges hold (trading.platforms:
the currencies of their pairs and their extras; ZAR to Binance is refused); amount > 0; amount not above what is
available on the source provider -> INSUFFICIENT_FUNDS. Messages are plain words; field keys only in ``details``.

Funds pending out are reserved where the orders draw from:
- paper accounts (testing mode): the amount is held on the source's paper balance (free -> used, trading.services.
  hold_paper_funds) under the same row lock the paper exchange's fills take, so no order can spend it while the transfer
  is pending. Canceled or failed: it goes back to free. Completed: it leaves the source and arrives on the destination's
  paper account.
- live accounts: the exchange holds the money, so nothing can be reserved here; the request is refused above the
  exchange's free balance minus the transfers out of it still pending.

Status changes (``record_status``): only a pending transfer changes, to completed, failed or canceled, once; the
transfer row is locked so two changes cannot both release or send the same held amount.
"""

import re
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import User
from amarktai.errors import Conflict, InsufficientFunds, ValidationFailed
from trading import services as trading
from trading.platforms import get_platform
from wallets.models import FINAL_TRANSFER_STATUSES, Transfer, TransferEvent
from wallets.selectors import lock_transfer, pending_out, transfer_status
from wallets.services import balances

CURRENCY = re.compile(r"^[A-Z0-9]{2,10}$")


def _plain_list(items: tuple | list) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def request_transfer(
    user: User, from_provider: str, to_provider: str, amount: Decimal, currency: str, reason: str = ""
) -> Transfer:
    """Record a transfer request (pending). Refused, in plain words, when an exchange is unknown, both are the same,
    the currency is malformed or one of the two exchanges cannot hold it (ZAR to Binance), or the amount is not
    there. Field keys appear only in ``details``."""
    src, dst = get_platform(from_provider), get_platform(to_provider)
    errors: dict[str, list[str]] = {}
    if src is None:
        errors["from_provider"] = [f'"{from_provider}" is not an exchange Amarktai supports: choose one to send from.']
    if dst is None:
        errors["to_provider"] = [f'"{to_provider}" is not an exchange Amarktai supports: choose one to send to.']
    if src and dst and src.id == dst.id:
        errors["to_provider"] = [f"Choose another exchange to send to: the money is already on {src.name}."]
    currency = (currency or "").strip().upper()
    if not CURRENCY.match(currency):
        errors["currency"] = ["Give the currency as its ticker, e.g. ZAR, USDT or BTC."]
    elif src and dst and src.id != dst.id:
        for side, platform in (("from_provider", src), ("to_provider", dst)):
            if currency not in platform.currencies:
                errors.setdefault("currency", []).append(
                    f"{platform.name} does not hold {currency}, so {currency} cannot be sent "
                    f"{'from' if side == 'from_provider' else 'to'} it. {platform.name} holds "
                    f"{_plain_list(platform.currencies)}."
                )
    if amount <= 0:
        errors["amount"] = ["Enter an amount greater than 0."]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first, details=errors)
    assert src is not None and dst is not None  # both known, or errors said so above
    with transaction.atomic():
        # Serialise this user's transfer requests so two concurrent ones cannot both spend the same balance.
        locked = User.objects.select_for_update().filter(pk=user.pk).first() or user
        # Pending transfers whose amount is not held (out of live accounts, or recorded before holds existed) still
        # count against what is available.
        unheld = pending_out(user, src.id, currency, held=False)
        held = balances.is_paper(locked)
        if held:
            trading.hold_paper_funds(user, src.id, currency, amount, keep_free=unheld)
        else:
            free = balances.available(locked, src.id, currency) - unheld
            if amount > free:
                shown = f"{max(free, Decimal(0)).normalize():f}"
                raise InsufficientFunds(
                    f"Not enough {currency} on {src.name}: {shown} {currency} is available "
                    "(pending transfers out of it count as spent)"
                )
        transfer = Transfer.objects.create(
            user=user,
            from_provider=src.id,
            to_provider=dst.id,
            currency=currency,
            amount=amount,
            reason=(reason or "manual_allocation")[:64],
            held=held,
        )
        TransferEvent.objects.create(transfer=transfer, status="pending", note="requested")
    return transfer


def record_status(user: Any, transfer_id: Any, status: str, note: str = "") -> TransferEvent:
    """Append a status change to a pending transfer's ledger: completed, failed or canceled. A held amount is sent to
    the destination's paper account (completed) or given back (failed, canceled). Raises Conflict if the transfer is no
    longer pending."""
    if status not in FINAL_TRANSFER_STATUSES:
        raise ValidationFailed(
            f"A transfer can only become {_plain_list(FINAL_TRANSFER_STATUSES)}",
            details={"status": ["invalid"]},
        )
    with transaction.atomic():
        transfer = lock_transfer(user, transfer_id)
        current = transfer_status(transfer)
        if current != "pending":
            raise Conflict(
                f"This transfer is already {current or 'closed'}: only a pending transfer can be completed or canceled"
            )
        if transfer.held:
            if status == "completed":
                trading.send_paper_funds(
                    user, transfer.from_provider, transfer.to_provider, transfer.currency, transfer.amount
                )
            else:
                trading.release_paper_funds(user, transfer.from_provider, transfer.currency, transfer.amount)
        return TransferEvent.objects.create(transfer=transfer, status=status, note=note[:255])


def cancel_transfer(user: Any, transfer_id: Any) -> TransferEvent:
    """The user withdraws a pending transfer request; a held amount is free again."""
    return record_status(user, transfer_id, "canceled", "canceled by the user")


def complete_transfer(user: Any, transfer_id: Any) -> TransferEvent:
    """The user confirms a pending transfer was carried out; a held (paper) amount moves to the destination."""
    return record_status(user, transfer_id, "completed", "confirmed by the user")
