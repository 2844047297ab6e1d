"""Response shapes of the accounts app (auth, 2FA enrolment, system mode, API keys, admin user list)."""

import base64
import io
from typing import Any

import qrcode

from accounts.models import LIVE_MODES, ApiKey, SystemMode, User
from amarktai.utils import iso


def user_payload(user: User) -> dict:
    return {
        "id": str(user.id),
        "email": user.email,
        "first_name": user.first_name,
        "currency": user.currency,
        "system_mode": user.system_mode,
        "two_factor_enabled": user.two_factor_enabled,
        "is_admin": user.is_admin,
        "created_at": iso(user.created_at),
    }


def admin_user_payload(user: User) -> dict:
    """A user as the admin API lists it."""
    return {
        "id": str(user.id),
        "email": user.email,
        "first_name": user.first_name,
        "is_admin": user.is_admin,
        "created_at": iso(user.created_at),
    }


def mode_payload(mode: str) -> dict:
    return {
        "mode": mode,
        "paper_trading": mode == SystemMode.TESTING,
        "live_trading": mode in LIVE_MODES,
        "autopilot": mode == SystemMode.AUTOPILOT,
    }


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def enrolment_payload(device: Any) -> dict:
    """A fresh (unconfirmed) TOTP device: its secret, provisioning URI and that URI as a QR code. Shown only once."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    uri = device.config_url
    return {"secret": secret, "provisioning_uri": uri, "qr_code": _qr_data_uri(uri)}


def backup_codes_payload(status: dict) -> dict:
    """How many backup codes are left (accounts.selectors.backup_code_status); never the codes."""
    return {
        "remaining": status["remaining"],
        "total": status["total"],
        "generated_at": iso(status["generated_at"]),
    }


def api_key_payload(key: ApiKey) -> dict:
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.key_prefix,
        "active": key.is_active,
        "scopes": list(key.scopes or []),
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "expires_at": iso(key.expires_at),
        "expired": key.is_expired,
        "revoked_at": iso(key.revoked_at),
    }


def new_api_key_payload(key: ApiKey, raw: str) -> dict:
    """A key just created: the only response that ever carries the raw key."""
    return {**api_key_payload(key), "key": raw}
