"""Stored exchange API keys: create/read/update/delete (scoped to the user) and validation through the exchange."""

import logging

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from amarktai.errors import AuthInvalid, NotFound, ValidationFailed, first_or_not_found
from amarktai.utils import iso
from trading.platforms import get_platform
from wallets.models import ExchangeCredential

logger = logging.getLogger(__name__)


def health_cache_key(user_id):
    return f"wallets:health:{user_id}"


def _changed(user):
    cache.delete(health_cache_key(user.pk))


def platform_or_error(provider):
    platform = get_platform(provider)
    if platform is None:
        raise ValidationFailed(f"Unknown provider {provider!r}", details={"provider": ["unknown provider"]})
    return platform


def credential_dict(cred):
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


def list_credentials(user, provider=None):
    qs = ExchangeCredential.objects.filter(user=user)
    if provider:
        qs = qs.filter(platform=provider)
    return list(qs.order_by("-created_at"))


def get_credential(user, credential_id):
    return first_or_not_found(ExchangeCredential.objects.filter(user=user, pk=credential_id), "API key not found")


def _check_passphrase(platform, passphrase):
    if platform.requires_passphrase and not (passphrase or "").strip():
        raise ValidationFailed(f"{platform.name} API keys need a passphrase", details={"passphrase": ["required"]})


def create_credential(user, provider, api_key, api_secret, passphrase="", label=""):
    platform = platform_or_error(provider)
    _check_passphrase(platform, passphrase)
    cred = ExchangeCredential(user=user, platform=platform.id, label=label or "")
    cred.api_key, cred.api_secret, cred.passphrase = api_key, api_secret, passphrase or ""
    cred.save()
    _changed(user)
    logger.info("user %s stored API keys %s for %s", user.pk, cred.pk, platform.id)
    return cred


def update_credential(user, credential_id, **fields):
    with transaction.atomic():
        cred = first_or_not_found(ExchangeCredential.objects.select_for_update().filter(user=user, pk=credential_id),
                                  "API key not found")
        if "label" in fields:
            cred.label = fields["label"] or ""
        keys_changed = False
        for name in ("api_key", "api_secret", "passphrase"):
            if name in fields:
                setattr(cred, name, fields[name])
                keys_changed = True
        if keys_changed:
            _check_passphrase(get_platform(cred.platform), cred.passphrase)
            cred.keys_valid, cred.last_checked_at = None, None
        cred.save()
    _changed(user)
    return cred


def delete_credential(user, credential_id):
    deleted, _ = ExchangeCredential.objects.filter(user=user, pk=credential_id).delete()
    if not deleted:
        raise NotFound("API key not found")
    _changed(user)


def validate_keys(platform_id, api_key, api_secret, passphrase=None):
    """An authenticated call (fetch_balance) through the adapter. True if accepted; raises ValidationFailed
    ("Invalid API credentials") when the exchange rejects them, ProviderError when it cannot be reached."""
    from trading.exchanges.ccxt_adapter import CcxtExchange

    exchange = CcxtExchange(platform_id, api_key=api_key, api_secret=api_secret, passphrase=passphrase or None,
                            max_retries=1)
    try:
        exchange.fetch_balance()
    except AuthInvalid:
        raise ValidationFailed("Invalid API credentials") from None
    return True


def test_keys(user, provider=None, api_key=None, api_secret=None, passphrase=None, credential_id=None):
    """POST /api/keys/test: validate keys given in the request, or a stored credential (which then records the result).
    Returns the provider id."""
    if credential_id:
        cred = get_credential(user, credential_id)
        if provider and get_platform(provider) and get_platform(provider).id != cred.platform:
            raise ValidationFailed("provider does not match the stored key", details={"provider": ["mismatch"]})
        try:
            validate_keys(cred.platform, cred.api_key, cred.api_secret, cred.passphrase)
            valid = True
        except ValidationFailed:
            valid = False
        ExchangeCredential.objects.filter(pk=cred.pk).update(keys_valid=valid, last_checked_at=timezone.now())
        _changed(user)
        if not valid:
            raise ValidationFailed("Invalid API credentials")
        return cred.platform
    platform = platform_or_error(provider)
    missing = {name: ["required"] for name, value in (("api_key", api_key), ("api_secret", api_secret)) if not value}
    if missing:
        raise ValidationFailed(f"{', '.join(missing)} required", details=missing)
    _check_passphrase(platform, passphrase)
    validate_keys(platform.id, api_key, api_secret, passphrase)
    return platform.id
