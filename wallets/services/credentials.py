"""Stored exchange API keys: create/update/delete (scoped to the user) and validation through the exchange. Reads are in
wallets.selectors, the response shape in wallets.payloads."""

import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from amarktai.errors import AuthInvalid, ValidationFailed
from trading.platforms import Platform, get_platform
from wallets.models import ExchangeCredential
from wallets.selectors import access_credential

logger = logging.getLogger(__name__)


def health_cache_key(user_id: Any) -> str:
    return f"wallets:health:{user_id}"


def _changed(user: Any) -> None:
    cache.delete(health_cache_key(user.pk))


def platform_or_error(provider: str | None) -> Platform:
    platform = get_platform(provider)
    if platform is None:
        raise ValidationFailed(f"Unknown provider {provider!r}", details={"provider": ["unknown provider"]})
    return platform


def _check_passphrase(platform: Platform, passphrase: str | None) -> None:
    if platform.requires_passphrase and not (passphrase or "").strip():
        raise ValidationFailed(f"{platform.name} API keys need a passphrase", details={"passphrase": ["required"]})


def create_credential(
    user: Any, provider: str, api_key: str, api_secret: str, passphrase: str = "", label: str = ""
) -> ExchangeCredential:
    platform = platform_or_error(provider)
    _check_passphrase(platform, passphrase)
    cred = ExchangeCredential(user=user, platform=platform.id, label=label or "")
    cred.api_key, cred.api_secret, cred.passphrase = api_key, api_secret, passphrase or ""
    cred.save()
    _changed(user)
    logger.info("user %s stored API keys %s for %s", user.pk, cred.pk, platform.id)
    return cred


def update_credential(user: Any, credential_id: Any, **fields: Any) -> ExchangeCredential:
    with transaction.atomic():
        cred = access_credential(user, credential_id, lock=True)
        if "label" in fields:
            cred.label = fields["label"] or ""
        keys_changed = False
        for name in ("api_key", "api_secret", "passphrase"):
            if name in fields:
                setattr(cred, name, fields[name])
                keys_changed = True
        if keys_changed:
            _check_passphrase(platform_or_error(cred.platform), cred.passphrase)
            cred.keys_valid, cred.last_checked_at = None, None
        cred.save()
    _changed(user)
    return cred


def delete_credential(user: Any, credential_id: Any) -> None:
    access_credential(user, credential_id).delete()
    _changed(user)


def validate_keys(platform_id: str, api_key: str, api_secret: str, passphrase: str | None = None) -> bool:
    """An authenticated call (fetch_balance) through the adapter. True if accepted; raises ValidationFailed
    ("Invalid API credentials") when the exchange rejects them, ProviderError when it cannot be reached."""
    from trading.exchanges.ccxt_adapter import CcxtExchange

    exchange = CcxtExchange(
        platform_id, api_key=api_key, api_secret=api_secret, passphrase=passphrase or None, max_retries=1
    )
    try:
        exchange.fetch_balance()
    except AuthInvalid:
        raise ValidationFailed("Invalid API credentials") from None
    return True


def test_keys(
    user: Any,
    provider: str | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    passphrase: str | None = None,
    credential_id: Any = None,
) -> str:
    """POST /api/keys/test: validate keys given in the request, or a stored credential (which then records the result).
    Returns the provider id."""
    if credential_id:
        cred = access_credential(user, credential_id)
        named = get_platform(provider) if provider else None
        if named is not None and named.id != cred.platform:
            stored = get_platform(cred.platform)
            raise ValidationFailed(
                f"The stored key is for {stored.name if stored else cred.platform}, not {named.name}",
                details={"provider": ["mismatch"]},
            )
        try:
            validate_keys(cred.platform, cred.api_key, cred.api_secret, cred.passphrase)
            valid = True
        except ValidationFailed:
            valid = False
        ExchangeCredential.objects.owned_by(user).filter(pk=cred.pk).update(
            keys_valid=valid, last_checked_at=timezone.now()
        )
        _changed(user)
        if not valid:
            raise ValidationFailed("Invalid API credentials")
        return cred.platform
    platform = platform_or_error(provider)
    missing = {name: ["required"] for name, value in (("api_key", api_key), ("api_secret", api_secret)) if not value}
    if missing:
        words = {"api_key": "the API key", "api_secret": "the API secret"}
        raise ValidationFailed(f"Enter {' and '.join(words[name] for name in missing)}", details=missing)
    _check_passphrase(platform, passphrase)
    validate_keys(platform.id, api_key or "", api_secret or "", passphrase)
    return platform.id
