"""Read queries of the wallets app, each scoped to one user (``owned_by``); single rows through ``access`` (404 for a
missing row and another user's alike)."""

from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from django.db.models import OuterRef, QuerySet, Subquery, Sum

from amarktai.tenancy import access
from wallets.models import ExchangeCredential, Transfer, TransferEvent

TRANSFER_LIST_LIMIT = 100


class TransferStatus(TypedDict):
    current_status: str | None  # the status of the transfer's latest TransferEvent


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    TransferWithStatus: TypeAlias = WithAnnotations[Transfer, TransferStatus]
else:
    TransferWithStatus = Transfer  # a Transfer read through with_status (annotated with current_status)


# ---------------------------------------------------------------- credentials


# A paper trading account (trading_mode "paper") is an ExchangeCredential without keys: the key selectors below (GET
# /api/keys, balances, health, live trading) see only live accounts; the accounts selectors further down see both.
def _live_keys() -> Any:
    return ExchangeCredential.objects.filter(trading_mode="live")


def access_credential(user: Any, credential_id: Any, *, lock: bool = False) -> ExchangeCredential:
    """One of the user's stored exchange keys. ``lock``: SELECT ... FOR UPDATE (inside the caller's transaction)."""
    return access(_live_keys(), user, credential_id, "API key", lock=lock)


def credentials(user: Any, provider: str | None = None) -> list[ExchangeCredential]:
    """The user's stored exchange keys (newest first), optionally of one provider."""
    qs = _live_keys().owned_by(user)
    if provider:
        qs = qs.filter(platform=provider)
    return list(qs.order_by("-created_at"))


def usable_credentials(user: Any, platform_id: str | None = None) -> list[ExchangeCredential]:
    """The user's keys not known to be invalid (by platform, oldest first), optionally of one platform."""
    qs = _live_keys().owned_by(user).exclude(keys_valid=False)
    if platform_id is not None:
        qs = qs.filter(platform=platform_id)
    return list(qs.order_by("platform", "created_at"))


def keys_valid_by_platform(user: Any) -> dict[str, list[bool | None]]:
    """{platform: [keys_valid of each stored key]} for the platforms the user has keys for."""
    out: dict[str, list[bool | None]] = {}
    for platform, keys_valid in _live_keys().owned_by(user).values_list("platform", "keys_valid"):
        out.setdefault(platform, []).append(keys_valid)
    return out


def live_credential(user: Any, platform_id: str) -> ExchangeCredential | None:
    """The credential live trading on ``platform_id`` uses: the user's newest one not known to be invalid."""
    return (
        _live_keys()
        .owned_by(user)
        .filter(platform=platform_id)
        .exclude(keys_valid=False)
        .order_by("-created_at")
        .first()
    )


def has_valid_credential(user: Any, platform_id: str) -> bool:
    return _live_keys().owned_by(user).filter(platform=platform_id, keys_valid=True).exists()


# ---------------------------------------------------------------- transfers


def _latest_status() -> Subquery:
    """The status of the outer transfer's latest TransferEvent (its current status)."""
    return Subquery(
        TransferEvent.objects.filter(transfer=OuterRef("pk")).order_by("-created_at", "-id").values("status")[:1]
    )


def with_status(qs: QuerySet[Transfer]) -> QuerySet[TransferWithStatus]:
    """Annotate each transfer with ``current_status``: the status of its latest TransferEvent."""
    return qs.annotate(current_status=_latest_status())


def access_transfer(user: Any, transfer_id: Any) -> TransferWithStatus:
    """One of the user's transfers (with ``current_status``)."""
    return access(with_status(Transfer.objects.all()), user, transfer_id, "Transfer")


def lock_transfer(user: Any, transfer_id: Any) -> Transfer:
    """One of the user's transfers, locked (SELECT ... FOR UPDATE, inside the caller's transaction): status changes of
    one transfer happen one at a time. Read its status with ``transfer_status`` after taking the lock (a status read in
    the locking statement could predate a change committed while it waited)."""
    return access(Transfer.objects, user, transfer_id, "Transfer", lock=True)


def transfer_status(transfer: Transfer) -> str | None:
    """The transfer's current status: that of its latest TransferEvent."""
    return (
        TransferEvent.objects.filter(transfer=transfer).order_by("-created_at", "-id").values_list("status", flat=True)
    ).first()


def transfers(user: Any, limit: int = TRANSFER_LIST_LIMIT) -> list[TransferWithStatus]:
    """The user's newest ``limit`` transfers (with ``current_status``), newest first."""
    return list(with_status(Transfer.objects.owned_by(user)).order_by("-created_at")[:limit])


def pending_out(user: Any, provider: str, currency: str, *, held: bool | None = None) -> Decimal:
    """The amount of ``currency`` in the user's transfers out of ``provider`` that are still pending; ``held``: only
    those whose amount is (True) or is not (False) held on a paper account."""
    qs = Transfer.objects.owned_by(user).filter(from_provider=provider, currency=currency)
    if held is not None:
        qs = qs.filter(held=held)
    pending = qs.alias(current_status=_latest_status()).filter(current_status="pending")
    return pending.aggregate(s=Sum("amount"))["s"] or Decimal(0)


# ---------------------------------------------------------------- trading accounts (/api/accounts)


def access_account(user: Any, account_id: Any, *, lock: bool = False) -> ExchangeCredential:
    """One of the user's trading accounts, live or paper (404 for a missing or another user's account alike)."""
    return access(ExchangeCredential.objects, user, account_id, "Account", lock=lock)


def accounts(user: Any, platform: str | None = None, mode: str | None = None) -> list[ExchangeCredential]:
    """The user's trading accounts (live and paper), by platform then oldest first; optionally of one platform/mode."""
    qs = ExchangeCredential.objects.owned_by(user)
    if platform:
        qs = qs.filter(platform=platform)
    if mode:
        qs = qs.filter(trading_mode=mode)
    return list(qs.order_by("platform", "created_at"))


def account_ids(user: Any) -> set[str]:
    """The ids of the user's trading accounts (as strings)."""
    return {str(pk) for pk in ExchangeCredential.objects.owned_by(user).values_list("pk", flat=True)}
