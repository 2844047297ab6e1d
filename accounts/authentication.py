"""Bearer authentication: a simplejwt access token or a programmatic API key, wherever either is accepted."""

import threading
import time
from collections import OrderedDict

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts.models import ApiKey, user_cache_key
from amarktai import cache


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
_TOKENS_MAX = 4096
_tokens = OrderedDict()  # raw access token -> its validated form: checking a signature is pure, so do it once
_tokens_lock = threading.Lock()


def _validated_token(raw):
    """simplejwt's validation (signature, type, expiry), memoized per process for tokens already seen; a memoized
    token is still refused the moment its "exp" passes."""
    hit = _tokens.get(raw)
    if hit is not None and hit["exp"] > time.time():
        return hit
    validated = _jwt.get_validated_token(raw.encode())
    with _tokens_lock:
        _tokens[raw] = validated
        while len(_tokens) > _TOKENS_MAX:
            _tokens.popitem(last=False)
    return validated


def invalidate_user(sender=None, instance=None, **kwargs):
    """Any save or delete of a user drops its cached copy (deactivation, 2FA, mode changes take effect at once)."""
    if instance is not None:
        cache.delete_many([user_cache_key(instance.pk)])


def _user_for_jwt(validated, pin=False):
    """The token's user: from the cache (shared by all processes in production) or the database. With ``pin`` (an
    HTTP request), the per-user keys apps registered come in the same round trip and are pinned on the user."""
    user_id = validated.get(jwt_settings.USER_ID_CLAIM)
    if not user_id:
        return _jwt.get_user(validated)  # raises InvalidToken
    key = user_cache_key(user_id)
    others = cache.per_user_keys(user_id) if pin else []
    found = cache.get_many([key, *others])  # one round trip: the user and the keys the user's hot reads need
    user = found.get(key)
    if user is None:
        user = _jwt.get_user(validated)
        cache.set(key, user, USER_CACHE_SECONDS)
    if pin:
        cache.pin(user, others, found)
    return user


def user_for_token(raw, pin=False):
    """Resolve a bearer credential (JWT or API key) to an active user, or None. Used by Channels consumers too."""
    if not raw:
        return None
    if raw.startswith(ApiKey.PREFIX):
        return user_for_api_key(raw)
    try:
        validated = _validated_token(raw if isinstance(raw, str) else raw.decode("latin-1"))
        user = _user_for_jwt(validated, pin=pin)
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
        user = user_for_token(raw, pin=True)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token")
        return user, raw

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
