"""TLS, cookies, CORS, proxies, login lockout, field encryption."""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from amarktai.settings.base import DEBUG
from amarktai.settings.env import env_bool, env_int, env_list, local_secret, random_fernet_key

__all__ = [
    "CORS_ALLOWED_ORIGINS",
    "CORS_URLS_REGEX",
    "CSRF_COOKIE_SECURE",
    "FIELD_ENCRYPTION_KEYS",
    "LOGIN_LOCKOUT_ACCOUNT_CEILING",
    "LOGIN_LOCKOUT_ACCOUNT_WINDOW",
    "LOGIN_LOCKOUT_NOTIFY",
    "LOGIN_LOCKOUT_THRESHOLD",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_REFERRER_POLICY",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SECURE",
    "TRUSTED_PROXIES",
    "X_FRAME_OPTIONS",
]

# Fernet key(s) for secrets at rest, newest first (MultiFernet rotation).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEY", []) or [local_secret("field_key", random_fernet_key)]

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/system/ping$", r"^api/health$", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Cross-origin API access only for the origins named here (none by default: the portal is same-origin).
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
# Failed logins on one account from one client address before that address is locked out of it (30 s, doubling up to
# an hour; accounts/lockout.py). Other addresses, the owner's among them, are not affected.
LOGIN_LOCKOUT_THRESHOLD = env_int("LOGIN_LOCKOUT_THRESHOLD", 5)
# Failed logins on one account from all addresses within LOGIN_LOCKOUT_ACCOUNT_WINDOW seconds (a fixed window from the
# first failure) after which addresses the account has never signed in from need a two-factor code. Locks nobody out.
LOGIN_LOCKOUT_ACCOUNT_CEILING = env_int("LOGIN_LOCKOUT_ACCOUNT_CEILING", 20)
LOGIN_LOCKOUT_ACCOUNT_WINDOW = env_int("LOGIN_LOCKOUT_ACCOUNT_WINDOW", 3600)
# Email the owner when their account reaches that ceiling (once per window).
LOGIN_LOCKOUT_NOTIFY = env_bool("LOGIN_LOCKOUT_NOTIFY", True)
# Addresses (or CIDR networks) of the reverse proxies in front of the app. X-Forwarded-For is believed only from these
# peers; the client is the right-most address in it that is not itself a trusted proxy. The default fits the bundled
# nginx.conf, which runs on the same host and connects from loopback.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", ["127.0.0.1", "::1"])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as exc:  # a typo fails at start-up, not on every login
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network") from exc
