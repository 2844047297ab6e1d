"""The transfer ledger. A transfer request is recorded (status "pending") with a correlation id; moving real funds
between exchanges is a manual step. Transfer rows are never edited: status changes are appended as TransferEvent rows and
the current status is the latest event.

Validation: both providers known and different; currency a plain ticker; amount > 0; amount not above what is available
on the source provider (free balance minus transfers out of it still pending) -> INSUFFICIENT_FUNDS.
"""

import re
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum

from amarktai.errors import InsufficientFunds, ValidationFailed, first_or_not_found
from amarktai.utils import iso, money
from trading.platforms import get_platform
from wallets.models import TRANSFER_STATUSES, Transfer, TransferEvent
from wallets.services import balances

MESSAGE = "Transfer recorded. Manual action required for real exchange transfer."
CURRENCY = re.compile(r"^[A-Z0-9]{2,10}$")


def with_status(qs):
    latest = TransferEvent.objects.filter(transfer=OuterRef("pk")).order_by("-created_at", "-id").values("status")[:1]
    return qs.annotate(current_status=Subquery(latest))


def transfer_dict(t):
    return {
        "id": str(t.id),
        "from_provider": t.from_provider,
        "to_provider": t.to_provider,
        "amount": money(t.amount),
        "currency": t.currency,
        "status": getattr(t, "current_status", None) or t.events.order_by("-created_at", "-id").first().status,
        "reason": t.reason,
        "correlation_id": str(t.correlation_id),
        "timestamp": iso(t.created_at),
    }


def list_transfers(user, limit=100):
    return [transfer_dict(t) for t in with_status(Transfer.objects.filter(user=user)).order_by("-created_at")[:limit]]


def pending_out(user, provider, currency):
    qs = with_status(Transfer.objects.filter(user=user, from_provider=provider, currency=currency))
    return qs.filter(current_status="pending").aggregate(s=Sum("amount"))["s"] or Decimal(0)


def request_transfer(user, from_provider, to_provider, amount, currency, reason=""):
    src, dst = get_platform(from_provider), get_platform(to_provider)
    errors = {}
    if src is None:
        errors["from_provider"] = ["unknown provider"]
    if dst is None:
        errors["to_provider"] = ["unknown provider"]
    if src and dst and src.id == dst.id:
        errors["to_provider"] = ["must differ from from_provider"]
    currency = (currency or "").strip().upper()
    if not CURRENCY.match(currency):
        errors["currency"] = ["invalid currency"]
    if amount is None or amount <= 0:
        errors["amount"] = ["must be greater than 0"]
    if errors:
        field = next(iter(errors))
        raise ValidationFailed(f"{field}: {errors[field][0]}", details=errors)
    with transaction.atomic():
        # Serialise this user's transfer requests so two concurrent ones cannot both spend the same balance.
        type(user).objects.select_for_update().filter(pk=user.pk).first()
        free = balances.available(user, src.id, currency) - pending_out(user, src.id, currency)
        if amount > free:
            raise InsufficientFunds(f"Insufficient {currency} on {src.name}: {money(max(free, Decimal(0)))} available")
        transfer = Transfer.objects.create(user=user, from_provider=src.id, to_provider=dst.id, currency=currency,
                                           amount=amount, reason=(reason or "manual_allocation")[:64])
        TransferEvent.objects.create(transfer=transfer, status="pending", note="requested")
    return transfer


def record_status(user, transfer_id, status, note=""):
    """Append a status change (completed / failed / canceled) to a transfer's ledger."""
    if status not in TRANSFER_STATUSES:
        raise ValidationFailed("invalid status", details={"status": ["invalid"]})
    transfer = first_or_not_found(Transfer.objects.filter(user=user, pk=transfer_id), "Transfer not found")
    return TransferEvent.objects.create(transfer=transfer, status=status, note=note[:255])
