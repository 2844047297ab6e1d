"""Response shapes of the wallets app (stored exchange keys and the transfer ledger)."""

from amarktai.utils import iso, money
from trading.platforms import get_platform
from wallets.models import ExchangeCredential, Transfer
from wallets.selectors import TransferWithStatus

# What each status means, for people (the portal's wallet page and the API docs say the same).
STATUS_DESCRIPTIONS = {
    "pending": (
        "Recorded, not yet carried out. Amarktai does not move money between exchanges: withdraw it from the first "
        "exchange and deposit it on the second yourself, then mark the transfer completed (or cancel it). On paper "
        "accounts the amount is set aside until then."
    ),
    "completed": (
        "Marked as carried out. On paper accounts the amount has moved to the destination; for real accounts it "
        "records that you moved the money."
    ),
    "failed": "Did not happen. Any amount set aside for it is free again.",
    "canceled": "Withdrawn before it was carried out. Any amount set aside for it is free again.",
}


def transfer_message(transfer: Transfer) -> str:
    """What a new transfer means and what the user has to do next, in plain words."""
    amount = f"{transfer.amount.normalize():f} {transfer.currency}"
    src, dst = _name(transfer.from_provider), _name(transfer.to_provider)
    if transfer.held:
        return (
            f"Transfer recorded as pending: {amount} is set aside on your {src} paper account. Mark it completed to "
            f"move it to {dst} (or cancel it to free it again)."
        )
    return (
        f"Transfer recorded as pending. Amarktai does not move real money between exchanges: withdraw {amount} from "
        f"{src} and deposit it on {dst} yourself, then mark this transfer completed (or cancel it)."
    )


def _name(platform_id: str) -> str:
    platform = get_platform(platform_id)
    return platform.name if platform is not None else platform_id


def _settings(cred: ExchangeCredential) -> dict:
    """The credential's extra fields that are not secret (a gateway URL, paper/live): secret ones never leave."""
    platform = get_platform(cred.platform)
    if platform is None or not cred.extras_enc:
        return {}
    shown = {spec.name for spec in platform.fields if not spec.secret}
    return {name: value for name, value in cred.extras.items() if name in shown}


def credential_payload(cred: ExchangeCredential) -> dict:
    """The public view of a credential: never the secret or passphrase, the key only masked."""
    return {
        "id": str(cred.id),
        "provider": cred.platform,
        "label": cred.label,
        "api_key": cred.masked_key,
        "has_passphrase": cred.has_passphrase,
        "testnet": cred.testnet,
        "settings": _settings(cred),
        "permissions": cred.permissions,
        "withdraw_accepted": cred.withdraw_accepted,
        "keys_valid": cred.keys_valid,
        "last_checked_at": iso(cred.last_checked_at),
        "created_at": iso(cred.created_at),
    }


def transfer_payload(transfer: TransferWithStatus) -> dict:
    """A ledger entry as listed; ``transfer`` comes from wallets.selectors (annotated with ``current_status``)."""
    return {
        "id": str(transfer.id),
        "from_provider": transfer.from_provider,
        "to_provider": transfer.to_provider,
        "amount": money(transfer.amount),
        "currency": transfer.currency,
        "status": transfer.current_status,
        "status_description": STATUS_DESCRIPTIONS.get(transfer.current_status or "", ""),
        "reason": transfer.reason,
        "correlation_id": str(transfer.correlation_id),
        "timestamp": iso(transfer.created_at),
    }


def transfer_requested_payload(transfer: Transfer) -> dict:
    """The answer to POST /api/wallet/transfer: a new transfer is always pending."""
    return {
        "id": str(transfer.id),
        "status": "pending",
        "message": transfer_message(transfer),
        "correlation_id": str(transfer.correlation_id),
    }


def account_health(cred: ExchangeCredential) -> dict:
    """An account's health as its last connection test found it: ``status`` ok (the test passed), failing (the
    exchange refused the keys), unreachable (it could not be reached: the keys' validity is unknown) or untested."""
    if cred.keys_valid is True:
        status = "ok"
    elif cred.keys_valid is False:
        status = "failing"
    else:
        status = "unreachable" if cred.last_error else "untested"
    return {
        "status": status,
        "keys_valid": cred.keys_valid,
        "last_checked_at": iso(cred.last_checked_at),
        "last_error": cred.last_error or None,
    }


def account_payload(cred: ExchangeCredential) -> dict:
    """A trading account (GET /api/accounts): never a secret; a live account's key only masked."""
    platform = get_platform(cred.platform)
    live = not cred.is_paper
    return {
        "id": str(cred.id),
        "name": cred.label,
        "platform": cred.platform,
        "platform_name": platform.name if platform is not None else cred.platform,
        "trading_mode": cred.trading_mode,
        "quote_currency": platform.quote if platform is not None else None,
        "api_key": cred.masked_key if live else None,
        "has_passphrase": cred.has_passphrase if live else False,
        "testnet": cred.testnet,
        "settings": _settings(cred) if live else {},
        "permissions": cred.permissions,
        "health": account_health(cred),
        "created_at": iso(cred.created_at),
    }
