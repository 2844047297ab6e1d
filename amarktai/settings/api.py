"""REST framework, throttles, JWT, OpenAPI, 2FA issuer."""

from datetime import timedelta

from amarktai.settings.base import SECRET_KEY
from amarktai.settings.env import env, env_int

__all__ = [
    "API_MAX_BODY_BYTES",
    "API_MAX_JSON_DEPTH",
    "AUTH_REFRESH_GRACE_SECONDS",
    "OTP_TOTP_ISSUER",
    "REST_FRAMEWORK",
    "SIMPLE_JWT",
    "SPECTACULAR_SETTINGS",
]

# The largest request body accepted (413 PAYLOAD_TOO_LARGE above it, before it is read; nginx.conf's
# client_max_body_size is the same 1 MiB), and the deepest nesting of objects/arrays in a JSON body (400 beyond).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerAuthentication",
    ],
    # An API key reads with scope "read" and writes with "trade"; credential management needs a password session
    # (accounts.permissions, applied per view).
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "accounts.permissions.KeyScope"],
    "DEFAULT_RENDERER_CLASSES": ["amarktai.renderers.JSONRenderer"],  # DRF's, encoding with orjson
    "DEFAULT_PARSER_CLASSES": ["amarktai.parsers.JSONParser"],  # DRF's, with the size and depth limits above
    "EXCEPTION_HANDLER": "amarktai.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "amarktai.schema.AutoSchema",
    "DEFAULT_METADATA_CLASS": "amarktai.metadata.ApiMetadata",
    "DEFAULT_THROTTLE_RATES": {
        "auth_ip": env("THROTTLE_AUTH_IP", "30/min"),
        "auth_account": env("THROTTLE_AUTH_ACCOUNT", "10/min"),
        "register_ip": env("THROTTLE_REGISTER_IP", "10/hour"),
        "user": env("THROTTLE_USER", "6000/min"),
    },
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": True,
    # Each refresh returns a new refresh token and blacklists the one it was given (token_blacklist app), so a refresh
    # token works once; logout blacklists it, log out everywhere blacklists them all.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

# The portal's cookie path (accounts/cookies.py): for this many seconds after a refresh cookie is rotated, the same old
# cookie sent again (two tabs refreshing at the same moment) gets the same successor instead of a replay refusal.
# Bearer clients (refresh token in the body) never get this grace: their refresh token works exactly once.
AUTH_REFRESH_GRACE_SECONDS = env_int("AUTH_REFRESH_GRACE_SECONDS", 10)

SPECTACULAR_SETTINGS = {
    "TITLE": "Amarktai API",
    "DESCRIPTION": "Multi-tenant trading-bot platform",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Two strategy lists meet in the schema: every strategy a bot can run, and the indicator ones backtests and the
    # ranking run (DCA, grid and signal bots have no candle-only decision). Named here, not by hash.
    "ENUM_NAME_OVERRIDES": {
        "StrategyEnum": "bots.strategies.STRATEGY_CHOICES",
        "IndicatorStrategyEnum": "bots.strategies.INDICATOR_STRATEGY_CHOICES",
        # An order's type (POST /api/orders, an account's orders) and a group order's (market and limit only).
        "OrderTypeEnum": ["market", "limit", "stop", "stop_limit"],
        "GroupOrderTypeEnum": ["market", "limit"],
    },
}

OTP_TOTP_ISSUER = "Amarktai"
