"""The transfer ledger. A transfer request is recorded (status "pending") with a correlation id; moving real funds
between exchanges is a manual step. Transfer rows are never edited: status changes are appended as TransferEvent rows
and the current status is the latest event.

Reads (the list, one transfer, the pending amount) are in wallets.selectors; the response shapes in wallets.payloads.

Validation: both providers known and different; currency a plain ticker; amount > 0; amount not above what is available
on the source provider (free balance minus transfers out of it still pending) -> INSUFFICIENT_FUNDS.
"""

import re
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import User
from amarktai.errors import InsufficientFunds, ValidationFailed
from amarktai.utils import money
from trading.platforms import get_platform
from wallets.models import TRANSFER_STATUSES, Transfer, TransferEvent
from wallets.selectors import access_transfer, pending_out
from wallets.services import balances

CURRENCY = re.compile(r"^[A-Z0-9]{2,10}$")


def request_transfer(
    user: User, from_provider: str, to_provider: str, amount: Decimal, currency: str, reason: str = ""
) -> Transfer:
    src, dst = get_platform(from_provider), get_platform(to_provider)
    errors: dict[str, list[str]] = {}
    if src is None:
        errors["from_provider"] = ["unknown provider"]
    if dst is None:
        errors["to_provider"] = ["unknown provider"]
    if src and dst and src.id == dst.id:
        errors["to_provider"] = ["must differ from from_provider"]
    currency = (currency or "").strip().upper()
    if not CURRENCY.match(currency):
        errors["currency"] = ["invalid currency"]
    if amount <= 0:
        errors["amount"] = ["must be greater than 0"]
    if errors:
        field = next(iter(errors))
        raise ValidationFailed(f"{field}: {errors[field][0]}", details=errors)
    assert src is not None and dst is not None  # both known, or errors said so above
    with transaction.atomic():
        # Serialise this user's transfer requests so two concurrent ones cannot both spend the same balance.
        User.objects.select_for_update().filter(pk=user.pk).first()
        free = balances.available(user, src.id, currency) - pending_out(user, src.id, currency)
        if amount > free:
            raise InsufficientFunds(f"Insufficient {currency} on {src.name}: {money(max(free, Decimal(0)))} available")
        transfer = Transfer.objects.create(
            user=user,
            from_provider=src.id,
            to_provider=dst.id,
            currency=currency,
            amount=amount,
            reason=(reason or "manual_allocation")[:64],
        )
        TransferEvent.objects.create(transfer=transfer, status="pending", note="requested")
    return transfer


def record_status(user: Any, transfer_id: Any, status: str, note: str = "") -> TransferEvent:
    """Append a status change (completed / failed / canceled) to a transfer's ledger."""
    if status not in TRANSFER_STATUSES:
        raise ValidationFailed("invalid status", details={"status": ["invalid"]})
    transfer = access_transfer(user, transfer_id)
    return TransferEvent.objects.create(transfer=transfer, status=status, note=note[:255])
