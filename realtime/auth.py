"""Bearer credentials for Channels consumers: ``Authorization: Bearer <token>`` header
or ``?token=`` query parameter."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from accounts.authentication import user_for_token


def header(scope, name):
    name = name.lower().encode()
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def query_param(scope, name):
    values = parse_qs((scope.get("query_string") or b"").decode("latin-1")).get(name)
    return values[0] if values else None


def raw_token(scope):
    """The credential the client sent, or None. The header wins over the query string."""
    auth = header(scope, "authorization")
    if auth:
        parts = auth.split()
        if len(parts) == 2 and parts[0].lower() == "bearer":
            return parts[1]
        return ""  # a malformed header is an invalid credential, not a missing one
    return query_param(scope, "token")


@database_sync_to_async
def authenticate(raw):
    return user_for_token(raw) if raw else None
