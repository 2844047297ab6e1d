"""Stored exchange API keys: create/update/delete (scoped to the user) and validation through the exchange. Reads are in
wallets.selectors, the response shape in wallets.payloads."""

import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from amarktai.errors import AuthInvalid, ValidationFailed
from trading.exchanges import connect
from trading.exchanges.base import KeySet
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


def _check_secret(platform: Platform, api_secret: str | None) -> None:
    if platform.secret_required and not (api_secret or "").strip():
        raise ValidationFailed("API secret: This field is required.", details={"api_secret": ["required"]})


def _check_testnet(platform: Platform, testnet: bool) -> None:
    if testnet and not platform.supports_testnet:
        raise ValidationFailed(f"{platform.name} has no testnet", details={"testnet": ["not offered"]})


def clean_extras(platform: Platform, extra: dict[str, str] | None, current: dict[str, str] | None = None) -> dict:
    """The platform's extra credential fields from ``extra`` (over ``current`` when updating): unknown names, missing
    required ones, URLs that are not http(s) and values outside a choice list are refused."""
    values = dict(current or {})
    errors: dict[str, list[str]] = {}
    for name, value in (extra or {}).items():
        spec = platform.credential_field(name)
        if spec is None:
            errors[name] = [f"{platform.name} has no such field"]
            continue
        value = (value or "").strip()
        if spec.kind == "url" and value and not value.lower().startswith(("http://", "https://")):
            errors[name] = ["must be an http:// or https:// URL"]
        elif spec.kind == "choice" and value and value not in spec.choices:
            errors[name] = [f"must be one of {', '.join(spec.choices)}"]
        values[name] = value
    for spec in platform.fields:
        if not values.get(spec.name) and spec.default:
            values[spec.name] = spec.default
        if spec.required and not values.get(spec.name) and spec.name not in errors:
            errors[spec.name] = ["required"]
    if errors:
        labels = {spec.name: spec.label for spec in platform.fields}
        named = ", ".join(labels.get(name, name) for name in errors)
        raise ValidationFailed(f"{platform.name} credential fields are missing or invalid: {named}", details=errors)
    return {name: value for name, value in values.items() if value}


def create_credential(
    user: Any,
    provider: str,
    api_key: str,
    api_secret: str = "",
    passphrase: str = "",
    label: str = "",
    extra: dict[str, str] | None = None,
    testnet: bool = False,
    accept_withdraw: bool = False,
) -> ExchangeCredential:
    platform = platform_or_error(provider)
    _check_secret(platform, api_secret)
    _check_passphrase(platform, passphrase)
    _check_testnet(platform, testnet)
    extras = clean_extras(platform, extra)
    cred = ExchangeCredential(
        user=user, platform=platform.id, label=label or "", testnet=testnet, withdraw_accepted=accept_withdraw
    )
    cred.api_key, cred.api_secret, cred.passphrase = api_key, api_secret or "", passphrase or ""
    cred.extras = extras
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
        platform = platform_or_error(cred.platform)
        if "extra" in fields:
            cred.extras = clean_extras(platform, fields["extra"], current=cred.extras)
            keys_changed = True
        if "testnet" in fields and fields["testnet"] != cred.testnet:
            _check_testnet(platform, fields["testnet"])
            cred.testnet = fields["testnet"]
            keys_changed = True
        if keys_changed:
            _check_secret(platform, cred.api_secret)
            _check_passphrase(platform, cred.passphrase)
            cred.keys_valid, cred.last_checked_at, cred.permissions = None, None, None
            cred.save_session("")
        cred.save()
    _changed(user)
    return cred


def delete_credential(user: Any, credential_id: Any) -> None:
    access_credential(user, credential_id).delete()
    _changed(user)


def validate_keys(keys: Any) -> dict:
    """An authenticated call through the platform's adapter (``Exchange.test_connection``) with ``keys`` (a stored
    credential or a trading KeySet). Returns what the adapter learnt ({"permissions", "account"}); raises
    ValidationFailed ("Invalid API credentials") when the exchange rejects them, ProviderError when it cannot be
    reached."""
    exchange = connect(keys.platform_id, keys, max_retries=1)
    try:
        return exchange.test_connection()
    except AuthInvalid:
        raise ValidationFailed("Invalid API credentials") from None


def test_keys(
    user: Any,
    provider: str | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    passphrase: str | None = None,
    credential_id: Any = None,
    extra: dict[str, str] | None = None,
    testnet: bool = False,
) -> dict[str, Any]:
    """POST /api/keys/test: validate keys given in the request, or a stored credential (which then records the result
    and the permissions the exchange reported). Returns {"provider", "account", "permissions"}: the provider id and
    what the exchange told (e.g. the broker behind an OpenAlgo gateway; None where it tells nothing)."""
    if credential_id:
        cred = access_credential(user, credential_id)
        named = get_platform(provider) if provider else None
        if named is not None and named.id != cred.platform:
            stored = get_platform(cred.platform)
            raise ValidationFailed(
                f"The stored key is for {stored.name if stored else cred.platform}, not {named.name}",
                details={"provider": ["mismatch"]},
            )
        learnt: dict[str, Any] = {}
        try:
            learnt = validate_keys(cred) or {}
            valid = True
        except ValidationFailed:
            valid = False
        recorded: dict[str, Any] = {"keys_valid": valid, "last_checked_at": timezone.now()}
        if learnt.get("permissions") is not None:
            recorded["permissions"] = learnt["permissions"]
        ExchangeCredential.objects.owned_by(user).filter(pk=cred.pk).update(**recorded)
        _changed(user)
        if not valid:
            raise ValidationFailed("Invalid API credentials")
        return {"provider": cred.platform, "account": learnt.get("account"), "permissions": learnt.get("permissions")}
    platform = platform_or_error(provider)
    given = (("api_key", api_key), ("api_secret", api_secret if platform.secret_required else "-"))
    missing = {name: ["required"] for name, value in given if not value}
    if missing:
        words = {"api_key": "the API key", "api_secret": "the API secret"}
        raise ValidationFailed(f"Enter {' and '.join(words[name] for name in missing)}", details=missing)
    _check_passphrase(platform, passphrase)
    _check_testnet(platform, testnet)
    extras = clean_extras(platform, extra)
    keys = KeySet(platform.id, api_key or "", api_secret or "", passphrase or "", extras, testnet)
    learnt = validate_keys(keys) or {}
    return {"provider": platform.id, "account": learnt.get("account"), "permissions": learnt.get("permissions")}
