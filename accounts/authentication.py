"""Bearer authentication: a simplejwt access token or a programmatic API key, wherever either is accepted.

``request.auth`` is a ``Credential`` saying which of the two it was and what it may do: accounts.permissions lets a
password session (a JWT from login) do everything, an API key only what its scopes allow, and never manage credentials.

A JWT belongs to a session: the login that issued it stamps ``sid`` (a random id) and ``auth_us`` (when it started, in
microseconds) into the refresh token, and every access token and rotated refresh token carries them on. A session ends
when its user's ``tokens_valid_after`` passes its start (log out everywhere, password change, password reset), or when
it is logged out (its ``sid`` is remembered in the cache for as long as an access token can live).
"""

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts.models import ApiKey, ApiKeyScope, user_cache_key
from amarktai import cache

JWT = "jwt"
API_KEY = "api_key"
SESSION_ID_CLAIM = "sid"
SESSION_START_CLAIM = "auth_us"


@dataclass(frozen=True)
class Credential:
    """What authenticated a request (``request.auth``): a password session (JWT) or an API key and its scopes."""

    kind: str
    scopes: frozenset
    api_key_id: object = None
    session_id: str | None = None

    @property
    def is_password_session(self):
        return self.kind == JWT

    def allows(self, scope):
        return scope in self.scopes


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _now_us():
    return time.time_ns() // 1000


def _us(moment):
    """Microseconds since the epoch, exactly (no float rounding)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def new_session_claims():
    """The claims a new session's refresh token starts with (accounts.services.issue_tokens stamps them)."""
    return {SESSION_ID_CLAIM: secrets.token_urlsafe(16), SESSION_START_CLAIM: _now_us()}


def session_started_us(token):
    """When the token's session started: its ``auth_us`` claim, or for tokens issued before that claim existed, its
    ``iat`` (whole seconds)."""
    started = token.get(SESSION_START_CLAIM)
    if isinstance(started, int):
        return started
    issued = token.get("iat")
    return int(issued) * 1_000_000 if isinstance(issued, (int, float)) else 0


def session_is_current(user, token):
    """False once the user's sessions were revoked after this token's session started."""
    cutoff = user.tokens_valid_after
    return cutoff is None or session_started_us(token) >= _us(cutoff)


def session_ended_key(session_id):
    return f"auth:session-ended:{session_id}"


def session_ended(token):
    """Whether this token's session was logged out (within the time its access tokens could still live)."""
    session_id = token.get(SESSION_ID_CLAIM)
    return bool(session_id) and bool(cache.get(session_ended_key(session_id)))


def end_session(token):
    """Refuse the access tokens of this token's session from now on (logout). Kept for as long as one can live."""
    session_id = token.get(SESSION_ID_CLAIM)
    if session_id:
        lifetime = int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()) + 60
        cache.set(session_ended_key(session_id), True, lifetime)


def _api_key(raw_key):
    """The active, unexpired API key with this secret (its user loaded), or None."""
    if not raw_key or not raw_key.startswith(ApiKey.PREFIX):
        return None
    now = timezone.now()
    key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=ApiKey.hash(raw_key), revoked_at__isnull=True, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if key is None:
        return None
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def user_for_api_key(raw_key):
    """The active user owning this (active, unexpired) API key, or None."""
    key = _api_key(raw_key)
    return key.user if key is not None else None


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
    HTTP request), the per-user keys apps registered come in the same round trip and are pinned on the user. Raises
    InvalidToken for a session that was logged out or revoked."""
    user_id = validated.get(jwt_settings.USER_ID_CLAIM)
    if not user_id:
        return _jwt.get_user(validated)  # raises InvalidToken
    key = user_cache_key(user_id)
    session_id = validated.get(SESSION_ID_CLAIM)
    ended = [session_ended_key(session_id)] if session_id else []
    others = cache.per_user_keys(user_id) if pin else []
    found = cache.get_many([key, *ended, *others])  # one round trip: the user, its session, its hot reads' keys
    if ended and found.get(ended[0]):
        raise InvalidToken("This session has been logged out")
    user = found.get(key)
    if user is None:
        user = _jwt.get_user(validated)
        cache.set(key, user, USER_CACHE_SECONDS)
    if not session_is_current(user, validated):
        raise InvalidToken("This session has been revoked")
    if pin:
        cache.pin(user, others, found)
    return user


ALL_SCOPES = frozenset(ApiKeyScope.values)


def authenticate_token(raw, pin=False):
    """Resolve a bearer credential (JWT or API key) to ``(user, Credential)`` for an active user, or None."""
    if not raw:
        return None
    if raw.startswith(ApiKey.PREFIX):
        key = _api_key(raw)
        if key is None:
            return None
        return key.user, Credential(API_KEY, frozenset(key.scopes or ()), api_key_id=key.pk)
    try:
        validated = _validated_token(raw if isinstance(raw, str) else raw.decode("latin-1"))
        user = _user_for_jwt(validated, pin=pin)
    except (InvalidToken, TokenError, exceptions.AuthenticationFailed):
        return None
    if not user.is_active:
        return None
    return user, Credential(JWT, ALL_SCOPES, session_id=validated.get(SESSION_ID_CLAIM))


def user_for_token(raw, pin=False, scope=ApiKeyScope.READ):
    """Resolve a bearer credential to an active user allowed ``scope`` (an API key must hold it), or None. Used by
    Channels consumers too: reading the event feeds needs ``read``."""
    found = authenticate_token(raw, pin=pin)
    if found is None:
        return None
    user, credential = found
    return user if scope is None or credential.allows(scope) else None


class BearerAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header")
        found = authenticate_token(header[1].decode("latin-1"), pin=True)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token")
        return found  # (user, Credential): the permission classes read request.auth

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
