"""Read queries of the accounts app, each scoped to one user (``owned_by``); single rows through ``access`` (404 for a
missing key and another user's alike)."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ApiKey, BackupCode, User, UserConfig
from amarktai import cache, keyset
from amarktai.tenancy import access

CONFIG_CACHE_SECONDS = 60


def api_keys(user: Any) -> list[ApiKey]:
    """All the user's API keys, revoked ones included (newest first)."""
    return list(ApiKey.objects.owned_by(user))


def active_api_key_count(user: Any) -> int:
    """The user's keys that still work: neither revoked nor expired."""
    live = ApiKey.objects.owned_by(user).filter(revoked_at__isnull=True)
    return live.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())).count()


def access_api_key(user: Any, key_id: Any, *, lock: bool = False) -> ApiKey:
    """One of the user's active API keys; a revoked key is as unknown as a missing or foreign one (404)."""
    return access(ApiKey.objects.filter(revoked_at__isnull=True), user, key_id, "API key", lock=lock)


def confirmed_device(user: User) -> TOTPDevice | None:
    """The user's confirmed TOTP device, if 2FA is set up."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def backup_code_status(user: Any) -> dict[str, Any]:
    """How many of the user's backup codes are left, of how many, generated when (never the codes themselves)."""
    codes = list(BackupCode.objects.owned_by(user).values_list("used_at", "created_at"))
    return {
        "remaining": sum(1 for used_at, _ in codes if used_at is None),
        "total": len(codes),
        "generated_at": max((created for _, created in codes), default=None),
    }


def all_users(*, limit: int | None = None, cursor: tuple[Any, Any] | None = None) -> tuple[list[User], str | None]:
    """Every account, oldest first (admin API only: the one read not scoped to a user), and the cursor of the next
    page. Without ``limit``: all of them (next cursor None); with it, one page of the (created_at, id) index after
    ``cursor`` (amarktai.keyset)."""
    users = User.objects.order_by("created_at", "id")
    if cursor is not None:
        users = keyset.after(users, cursor, newest_first=False)
    if limit is None:
        return list(users), None
    return keyset.page(users, limit)


def config_cache_key(user_id: Any, section: str) -> str:
    return f"cfg:{user_id}:{section}"


def config_section(user_id: Any, section: str) -> dict:
    """The stored values of one of the user's configuration sections ({} when never set), cached for a minute (every
    write drops the cached copy: control.services). Cheap enough for the engine's every tick."""
    key = config_cache_key(user_id, section)
    cached = cache.get(key)
    if isinstance(cached, dict):
        return cached
    row = UserConfig.objects.owned_by(user_id).filter(section=section).only("values").first()
    values = dict(row.values) if row is not None else {}
    cache.set(key, values, CONFIG_CACHE_SECONDS)
    return values


def config_section_many(user_ids: Iterable[Any], section: str) -> dict[str, dict]:
    """config_section for many users at once, keyed by str(user id): one cache read, and one query for the users not
    cached (the bot engine's batched tick reads its group's owners' risk sections so)."""
    keys = {config_cache_key(user_id, section): str(user_id) for user_id in user_ids}
    found = {keys[key]: values for key, values in cache.get_many(list(keys)).items() if isinstance(values, dict)}
    missing = set(keys.values()) - set(found)
    if missing:
        rows = UserConfig.objects.filter(user_id__in=missing, section=section).values_list("user_id", "values")
        stored = {str(user_id): dict(values) for user_id, values in rows}
        fresh = {user_id: stored.get(user_id, {}) for user_id in missing}
        cache.set_many(
            {config_cache_key(user_id, section): values for user_id, values in fresh.items()}, CONFIG_CACHE_SECONDS
        )
        found.update(fresh)
    return found


def config_sections(user: Any) -> dict[str, dict]:
    """Every stored section of the user: {section: values}."""
    return {row.section: dict(row.values) for row in UserConfig.objects.owned_by(user)}
