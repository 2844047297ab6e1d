"""The portal's session cookie: the refresh token in an HttpOnly cookie, the access token in the page's memory.

API clients keep the contract's bearer flow unchanged: login, register, refresh and password change answer the JWT pair
in the JSON body, and refresh/logout take the refresh token in the body. A browser asks for the cookie flow instead by
sending ``X-Session-Mode: cookie`` to those endpoints; its answers then

- set the refresh token as the cookie ``amk_refresh`` (HttpOnly, SameSite=Strict, Path=/api/auth/, Max-Age its
  remaining lifetime, Secure whenever ``SESSION_COOKIE_SECURE`` is on or the request came over HTTPS),
- leave ``refresh`` out of the body (script never sees a refresh token), and
- set Django's CSRF cookie (``csrftoken``, readable by script, rotated at login).

``POST /api/auth/refresh`` and ``POST /api/auth/logout`` without a ``refresh`` in the body use the cookie, and only with
Django's CSRF check passing: an ``X-CSRFToken`` header equal to the ``csrftoken`` cookie (double submit), and over
HTTPS an Origin/Referer of this site (or of ``CSRF_TRUSTED_ORIGINS``). SameSite=Strict already keeps other sites'
requests from carrying the cookie; the CSRF check also covers same-site neighbours (other subdomains).

Rotation and the blacklist apply to the cookie as to a body token, with one difference for concurrent tabs: a cookie
rotated less than ``AUTH_REFRESH_GRACE_SECONDS`` ago, sent again, gets the same successor (accounts.services
.refresh_session), so two tabs refreshing at the same moment do not log each other out. Logout, log out everywhere,
password change and reset clear the cookie.
"""

import time
from typing import Any

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware, get_token, rotate_token
from rest_framework.exceptions import APIException
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import UntypedToken

from accounts.authentication import SESSION_ID_CLAIM
from amarktai.errors import AmarktaiError, CsrfFailed

REFRESH_COOKIE = "amk_refresh"
COOKIE_PATH = "/api/auth/"
MODE_HEADER = "X-Session-Mode"
COOKIE_MODE = "cookie"


def _django_request(request: Any) -> Any:
    return getattr(request, "_request", request)


def wants_cookie(request: Any) -> bool:
    """The client asked for the cookie flow (``X-Session-Mode: cookie``)."""
    return (request.headers.get(MODE_HEADER) or "").strip().lower() == COOKIE_MODE


def refresh_cookie(request: Any) -> str | None:
    """The refresh token in the request's cookie, if any."""
    return request.COOKIES.get(REFRESH_COOKIE) or None


def cookie_session_id(request: Any) -> str | None:
    """The session id of a validly signed, unexpired refresh token in the cookie, when the body names no refresh token
    (the cookie path); else None. Checks the signature only (no database): for throttling, not for authentication."""
    raw = refresh_cookie(request)
    if raw is None:
        return None
    try:
        data = request.data
    except (APIException, AmarktaiError):  # a body that does not parse: the view answers it; count it per address
        return None
    if isinstance(data, dict) and data.get("refresh") is not None:
        return None
    try:
        token = UntypedToken(raw)  # type: ignore[arg-type]
    except TokenError:
        return None
    session_id = token.get(SESSION_ID_CLAIM)
    return str(session_id) if token.get("token_type") == "refresh" and session_id else None


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: Any, reason: str) -> Any:
        return reason


def check_csrf(request: Any) -> None:
    """Django's CSRF check (token in ``X-CSRFToken`` against the ``csrftoken`` cookie; Origin/Referer over HTTPS) for a
    request that a cookie authenticates. The API views are otherwise CSRF-exempt: bearer tokens are not ambient."""
    django_request = _django_request(request)
    check = _CsrfCheck(lambda req: None)  # type: ignore[arg-type, return-value]
    check.process_request(django_request)
    reason = check.process_view(django_request, lambda req: None, (), {})  # type: ignore[arg-type]
    if reason:
        raise CsrfFailed(
            "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header, from this site",
            details={"csrf": [str(reason)]},
        )


def _secure(request: Any) -> bool:
    # On in production (SESSION_COOKIE_SECURE defaults to "not DEBUG"). With DEBUG on plain http (make run on
    # http://127.0.0.1), a Secure cookie would not be stored by browsers, so it is left off unless the request is https.
    return bool(settings.SESSION_COOKIE_SECURE or _django_request(request).is_secure())


def _max_age(raw_refresh: str) -> int:
    try:
        exp = int(UntypedToken(raw_refresh)["exp"])  # type: ignore[arg-type]
    except (TokenError, KeyError, TypeError, ValueError):
        exp = int(time.time() + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds())
    return max(0, exp - int(time.time()))


def set_refresh_cookie(response: Any, request: Any, raw_refresh: str, *, new_login: bool = False) -> None:
    """Put the refresh token in the HttpOnly cookie; make sure the CSRF cookie exists (a new one at login)."""
    response.set_cookie(
        REFRESH_COOKIE,
        raw_refresh,
        max_age=_max_age(raw_refresh),
        path=COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="Strict",
    )
    django_request = _django_request(request)
    if new_login:
        rotate_token(django_request)  # a CSRF token planted before login is not carried into the session
    else:
        get_token(django_request)  # CsrfViewMiddleware sets the cookie on the way out


def clear_refresh_cookie(response: Any) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, samesite="Strict")


def token_body(tokens: dict[str, str], cookie: bool) -> dict[str, str]:
    """The JSON body for a JWT pair: as the contract says, or without ``refresh`` in the cookie flow."""
    if not cookie:
        return dict(tokens)
    return {k: v for k, v in tokens.items() if k != "refresh"}
