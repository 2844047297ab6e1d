"""Brute-force protection for the auth endpoints, per client IP and per account. Uses the default cache, which is
Redis in production, so limits hold across every web process."""

import hashlib

from rest_framework.throttling import SimpleRateThrottle

from amarktai.utils import client_ip


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
        return client_ip(request)


class RegisterIPThrottle(AuthIPThrottle):
    scope = "register_ip"


class AuthAccountThrottle(_ScopedThrottle):
    """Keyed on the account being attacked: the email in the body, else the authenticated user."""

    scope = "auth_account"

    def get_ident_for(self, request, view):
        user = request.user  # None when anonymous (REST_FRAMEWORK["UNAUTHENTICATED_USER"] is None)
        if user is not None:
            return f"user:{user.pk}"
        data = request.data
        email = data.get("email") if isinstance(data, dict) else None
        if isinstance(email, str) and email.strip():
            return "email:" + email.strip().lower()[:254]
        return None
