"""Open WebSockets and SSE streams end when the credential they were opened with stops being valid.

A connection is authenticated once, at its start, and may then stay open for hours. Two mechanisms end it within
seconds once its credential is no longer good:

- Events. Deactivating or deleting a user, taking away a user's admin rights, revoking or deleting an API key, and
  accounts' ``sessions_revoked`` signal (log out everywhere, password change or reset) send a control message to the
  user's ``session.<user id>`` group once the transaction commits::

      {"type": "amarktai.session", "action": "close" | "demote", "code": 4401 | 4403, "reason": str,
       "key_id": str | None, "jwt_only": bool}

  Every WebSocket and SSE consumer of the user joins that group, and the message travels over the channel layer, so
  it reaches the user's connections in every process. The same message is also sent through the fan-out hub
  (realtime.hub) on the route ``session.<user id>``, which each connection's events queue follows: it is handled in
  order with the user's events, so nothing published after the revocation is sent on a connection it ends. "close"
  ends each of the user's connections (with ``key_id``: only those opened with that API key; with ``jwt_only``: only
  those opened with a JWT, as revoking the user's sessions leaves API keys valid); "demote" ends the WebSockets that
  follow ``admins`` (every user's events) with 4403: a reconnect gets a socket with only the user's own events.
- A periodic re-check. Each connection validates its credential again every ``REALTIME_RECHECK_SECONDS`` exactly as a
  new request would (``accounts.authentication.user_for_token``: active user, API key not revoked, token valid), and
  a connection ends at its JWT's "exp" (or its API key's expiry) to the second. This also covers changes that send
  no model signal (queryset updates, raw SQL, another service writing the database).

Close codes: 4401 the credential is no longer valid (get a fresh one, then reconnect); 4403 the credential is valid but
no longer allows what the connection was opened for. An SSE stream sends a last ``session_closed`` event with the code
and reason, then ends.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from accounts.authentication import user_for_token
from accounts.models import ApiKey
from realtime import hub

logger = logging.getLogger(__name__)

CLOSE_AUTH = 4401  # the credential is missing, invalid, expired, revoked, or its user deactivated
CLOSE_FORBIDDEN = 4403  # the credential is still valid but no longer allows what the connection was opened for

MESSAGE_TYPE = "amarktai.session"
CLOSE = "close"
DEMOTE = "demote"

# Reasons (sent to SSE clients in the session_closed event).
USER_DEACTIVATED = "user_deactivated"
USER_DELETED = "user_deleted"
ADMIN_REVOKED = "admin_revoked"
API_KEY_REVOKED = "api_key_revoked"
SESSIONS_REVOKED = "sessions_revoked"
TOKEN_EXPIRED = "token_expired"
API_KEY_EXPIRED = "api_key_expired"
CREDENTIAL_INVALID = "credential_invalid"

MIN_RECHECK_SECONDS = 0.05


def session_group(user_id):
    """The group every connection of the user joins for control messages (never for events)."""
    return f"session.{user_id}"


# ------------------------------------------------------------------ what a connection was opened with


@dataclass(frozen=True)
class Session:
    raw: str  # the bearer credential, validated again by every re-check
    user_id: str
    key_id: str | None  # the API key's id; None for a JWT
    expires_at: float | None  # the JWT's "exp" or the API key's expiry (epoch seconds); None: the key never expires


def jwt_expiry(raw):
    """The "exp" (epoch seconds) of an already validated access token; None for API keys.

    The token was verified by ``realtime.auth.authenticate`` a moment ago, so it is read here without verifying it
    again: a token that expired in between must yield its (past) exp, which ends the connection at once, not None,
    which never would.
    """
    from rest_framework_simplejwt.tokens import AccessToken

    if not raw or raw.startswith(ApiKey.PREFIX):
        return None
    try:
        return float(AccessToken(raw, verify=False)["exp"])
    except Exception:  # noqa: BLE001
        return None


@database_sync_to_async
def _api_key(raw):
    """(id, expiry as epoch seconds or None) of the API key with this secret; (None, None) if there is none."""
    key = ApiKey.objects.filter(key_hash=ApiKey.hash(raw)).first()
    if key is None:
        return None, None
    expires_at = getattr(key, "expires_at", None)
    return str(key.pk), (expires_at.timestamp() if expires_at is not None else None)


async def open_session(raw, user):
    """The Session of a connection that ``user`` opened with the (already validated) credential ``raw``. It ends at
    the JWT's "exp", or at the API key's expiry when the key has one."""
    if raw.startswith(ApiKey.PREFIX):
        key_id, expires_at = await _api_key(raw)
        return Session(raw=raw, user_id=str(user.pk), key_id=key_id, expires_at=expires_at)
    return Session(raw=raw, user_id=str(user.pk), key_id=None, expires_at=jwt_expiry(raw))


def decide(session, message, *, admin_scope=False):
    """What a control message means for one connection: (close code, reason), or None to stay open."""
    if session is None:
        return None
    action = message.get("action")
    if action == CLOSE:
        key_id = message.get("key_id")
        if key_id is not None and str(key_id) != session.key_id:
            return None
        if message.get("jwt_only") and session.key_id is not None:
            return None
        return int(message.get("code") or CLOSE_AUTH), str(message.get("reason") or CREDENTIAL_INVALID)
    if action == DEMOTE and admin_scope:
        return CLOSE_FORBIDDEN, ADMIN_REVOKED
    return None


# ------------------------------------------------------------------ the periodic re-check


def _recheck(session, admin_scope):
    user = user_for_token(session.raw)
    if user is None or str(user.pk) != session.user_id:
        return CLOSE_AUTH, CREDENTIAL_INVALID
    if admin_scope and not user.is_admin:
        return CLOSE_FORBIDDEN, ADMIN_REVOKED
    return None


_recheck_async = database_sync_to_async(_recheck)


async def watch(session, end: Callable[[int, str], Awaitable[None]], admin_scope: Callable[[], bool] = lambda: False):
    """Run for the lifetime of a connection: ``await end(code, reason)`` once its credential is no longer good.

    The JWT's (or API key's) expiry is enforced to the second; the credential is validated again every
    REALTIME_RECHECK_SECONDS. A re-check that fails for another reason (database briefly unreachable) is retried at
    the next interval.
    """
    while True:
        now = time.time()
        if session.expires_at is not None and session.expires_at <= now:
            await end(CLOSE_AUTH, TOKEN_EXPIRED if session.key_id is None else API_KEY_EXPIRED)
            return
        interval = max(MIN_RECHECK_SECONDS, float(settings.REALTIME_RECHECK_SECONDS))
        if session.expires_at is not None and session.expires_at - now < interval:
            await asyncio.sleep(session.expires_at - now)
            continue
        await asyncio.sleep(interval)
        try:
            verdict = await _recheck_async(session, admin_scope())
        except asyncio.CancelledError:
            raise
        except Exception:  # keep the connection, try again next time
            logger.warning(
                "could not re-check the credential of a connection of user %s", session.user_id, exc_info=True
            )
            continue
        if verdict is not None:
            await end(*verdict)
            return


# ------------------------------------------------------------------ sending control messages


def _send(user_id, message):
    # Through the hub first, on the route session.<id> every connection's events sink follows: the message is queued
    # behind the events published before it and ahead of those published after it, so a connection sends nothing
    # published after its credential ended. Then over the channel layer as well (a connection ends once; decide() is
    # idempotent), which holds a message for a consumer while the process's hub subscription is reconnecting.
    try:
        hub.send([{**message, "routes": [session_group(user_id)]}])
    except Exception:
        logger.warning("could not send %s to the connections of user %s", message.get("action"), user_id, exc_info=True)
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(session_group(user_id), message)
    except Exception:  # the periodic re-check still ends the connections
        logger.warning("could not send %s to the connections of user %s", message.get("action"), user_id, exc_info=True)


def _on_commit(user_id, action, code, reason, key_id=None, jwt_only=False):
    message = {
        "type": MESSAGE_TYPE,
        "action": action,
        "code": code,
        "reason": reason,
        "key_id": key_id,
        "jwt_only": jwt_only,
    }
    transaction.on_commit(lambda: _send(user_id, message))


def close_user_sessions(user_id, reason, jwt_only=False):
    """End every open connection of the user (4401) once the current transaction commits; with ``jwt_only`` only
    those opened with a JWT (a login session), not with an API key."""
    _on_commit(user_id, CLOSE, CLOSE_AUTH, reason, jwt_only=jwt_only)


def close_api_key_sessions(user_id, key_id):
    """End the user's connections that were opened with this API key (4401) once the transaction commits."""
    _on_commit(user_id, CLOSE, CLOSE_AUTH, API_KEY_REVOKED, key_id=str(key_id))


def demote_admin_sessions(user_id):
    """End the user's WebSockets that receive every user's events (4403) once the transaction commits."""
    _on_commit(user_id, DEMOTE, CLOSE_FORBIDDEN, ADMIN_REVOKED)


# ------------------------------------------------------------------ signal receivers (connected in apps.py)

_USER_FIELDS = ("is_active", "is_admin")
_BEFORE = "_realtime_session_flags"


def user_pre_save(sender, instance, raw=False, update_fields=None, **kwargs):
    """Remember is_active / is_admin as stored, for post_save to see what the save changes."""
    before = None
    fields = set(_USER_FIELDS) if update_fields is None else set(_USER_FIELDS) & set(update_fields)
    if not raw and not instance._state.adding and fields:
        before = sender._base_manager.using(kwargs.get("using")).filter(pk=instance.pk).values(*fields).first()
    instance.__dict__[_BEFORE] = before


def user_post_save(sender, instance, raw=False, **kwargs):
    before = instance.__dict__.pop(_BEFORE, None)
    if raw or not before:
        return
    if before.get("is_active") and not instance.is_active:
        close_user_sessions(instance.pk, USER_DEACTIVATED)
    elif before.get("is_admin") and not instance.is_admin:
        demote_admin_sessions(instance.pk)


def user_post_delete(sender, instance, **kwargs):
    close_user_sessions(instance.pk, USER_DELETED)


def api_key_post_save(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or instance.revoked_at is None:
        return
    if update_fields is None or "revoked_at" in update_fields:
        close_api_key_sessions(instance.user_id, instance.pk)


def api_key_post_delete(sender, instance, **kwargs):
    close_api_key_sessions(instance.user_id, instance.pk)


def on_sessions_revoked(sender, user_id=None, reason=None, **kwargs):
    """accounts.signals.sessions_revoked (log out everywhere, password change or reset): end every connection opened
    with one of the user's JWTs. API keys are separate credentials that outlive it (accounts.services.revoke_sessions),
    so their connections stay open; revoking a key ends its connections."""
    if user_id is not None:
        close_user_sessions(user_id, str(reason or SESSIONS_REVOKED)[:64], jwt_only=True)
