"""REST framework, throttles, JWT, OpenAPI, 2FA issuer."""

from datetime import timedelta

from amarktai.settings.base import SECRET_KEY
from amarktai.settings.env import env, env_int

__all__ = ["OTP_TOTP_ISSUER", "REST_FRAMEWORK", "SIMPLE_JWT", "SPECTACULAR_SETTINGS"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
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
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Amarktai API",
    "DESCRIPTION": "Multi-tenant trading-bot platform",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

OTP_TOTP_ISSUER = "Amarktai"
