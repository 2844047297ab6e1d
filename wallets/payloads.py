"""Response shapes of the wallets app (stored exchange keys and the transfer ledger)."""

from amarktai.utils import iso, money
from wallets.models import ExchangeCredential, Transfer
from wallets.selectors import TransferWithStatus

TRANSFER_MESSAGE = "Transfer recorded. Manual action required for real exchange transfer."


def credential_payload(cred: ExchangeCredential) -> dict:
    """The public view of a credential: never the secret or passphrase, the key only masked."""
    return {
        "id": str(cred.id),
        "provider": cred.platform,
        "label": cred.label,
        "api_key": cred.masked_key,
        "has_passphrase": cred.has_passphrase,
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
        "reason": transfer.reason,
        "correlation_id": str(transfer.correlation_id),
        "timestamp": iso(transfer.created_at),
    }


def transfer_requested_payload(transfer: Transfer) -> dict:
    """The answer to POST /api/wallet/transfer: a new transfer is always pending."""
    return {
        "id": str(transfer.id),
        "status": "pending",
        "message": TRANSFER_MESSAGE,
        "correlation_id": str(transfer.correlation_id),
    }
