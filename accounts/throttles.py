"""Brute-force protection for the auth endpoints, per client address and per account. Uses the default cache, which is
Redis in production, so limits hold across every web process.

Nothing here is keyed on an account alone: a budget that anyone can spend for an account is a way to lock its owner
out. The per-account limit counts one account from one address; attacks on one account from many addresses meet
accounts.lockout's per-account ceiling, which slows them without refusing the owner."""

import hashlib
import math
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from accounts.cookies import cookie_session_id
from accounts.lockout import address_of
from amarktai.errors import RateLimited


class _ScopedThrottle(SimpleRateThrottle):
    def get_ident_for(self, request, view):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_cache_key(self, request, view):
        ident = self.get_ident_for(request, view)
        if not ident:
            return None
        bucket = getattr(view, "throttle_bucket", view.__class__.__name__)
        # Idents can come from request bodies: hash them into a short, safe cache key.
        return f"throttle:{self.scope}:{bucket}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}"


class AuthIPThrottle(_ScopedThrottle):
    scope = "auth_ip"

    def get_ident_for(self, request, view):
        return address_of(request)


class RefreshThrottle(AuthIPThrottle):
    """POST /api/auth/refresh: per client address, except that a refresh by the portal's cookie carrying a validly
    signed refresh token counts per session. The portal refreshes on every page load; traders sharing one address (an
    office) then do not share one budget, and a stranger without a signed token still meets the per-address limit."""

    def get_ident_for(self, request, view):
        session_id = cookie_session_id(request)
        return f"session:{session_id}" if session_id else address_of(request)


class RegisterIPThrottle(AuthIPThrottle):
    scope = "register_ip"


class AuthAccountThrottle(_ScopedThrottle):
    """Keyed on the account being attacked: the authenticated user; when anonymous, the email in the body (or the
    view's ``account_email``) together with the client address."""

    scope = "auth_account"

    def get_ident_for(self, request, view):
        user = getattr(request, "user", None)  # None when anonymous (REST_FRAMEWORK["UNAUTHENTICATED_USER"] is None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        email = getattr(view, "account_email", None)
        if email is None:
            data = getattr(request, "data", None)
            email = data.get("email") if isinstance(data, dict) else None
        if isinstance(email, str) and email.strip():
            return f"email:{email.strip().lower()[:254]}|{address_of(request)}"
        return None


class _LoginForm:
    """What the throttles need to know of a login that does not come through DRF."""

    throttle_bucket = "login"  # LoginView's: the admin and the API share one budget

    def __init__(self, email: str) -> None:
        self.account_email = email


def check_login(request: Any, email: str) -> None:
    """POST /api/auth/login's throttles (per client address; per account and address) for a login form outside DRF,
    the Django admin's. Raises RateLimited when either is spent."""
    view = _LoginForm(email)
    for throttle in (AuthIPThrottle(), AuthAccountThrottle()):
        if not throttle.allow_request(request, view):
            wait = max(1, math.ceil(throttle.wait() or 1))
            raise RateLimited(f"Too many sign-in attempts. Try again in {wait} seconds.", retry_after=wait)
