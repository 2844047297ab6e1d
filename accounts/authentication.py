"""Bearer authentication: a simplejwt access token or a programmatic API key, wherever either is accepted."""

from amarktai import cache
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from accounts.models import ApiKey


def user_for_api_key(raw_key):
    """The active user owning this API key, or None."""
    if not raw_key or not raw_key.startswith(ApiKey.PREFIX):
        return None
    key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=ApiKey.hash(raw_key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.user


_jwt = JWTAuthentication()
USER_CACHE_SECONDS = 60


def _user_key(user_id):
    return f"auth:user:{user_id}"


def invalidate_user(sender=None, instance=None, **kwargs):
    """Any save or delete of a user drops its cached copy (deactivation, 2FA, mode changes take effect at once)."""
    if instance is not None:
        cache.delete_many([_user_key(instance.pk)])


def _user_for_jwt(validated):
    """The token's user: from the cache (shared by all processes in production) or the database."""
    from django.conf import settings as dj_settings

    user_id = validated.get(dj_settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))
    key = _user_key(user_id)
    user = cache.get(key) if user_id else None
    if user is None:
        user = _jwt.get_user(validated)
        cache.set(key, user, USER_CACHE_SECONDS)
    return user


def user_for_token(raw):
    """Resolve a bearer credential (JWT or API key) to an active user, or None. Used by Channels consumers too."""
    if not raw:
        return None
    if raw.startswith(ApiKey.PREFIX):
        return user_for_api_key(raw)
    try:
        validated = _jwt.get_validated_token(raw.encode() if isinstance(raw, str) else raw)
        user = _user_for_jwt(validated)
    except (InvalidToken, TokenError, exceptions.AuthenticationFailed):
        return None
    return user if user.is_active else None


class BearerAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header")
        raw = header[1].decode("latin-1")
        user = user_for_token(raw)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token")
        return user, raw

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
