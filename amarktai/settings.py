"""Amarktai settings.

Everything that differs between the embedded default and production comes from environment variables:

- ``DATABASE_URL``          default: SQLite file ``var/db.sqlite3``
- ``REDIS_URL``             when set: channels-redis, Celery broker/backend and Django cache on Redis;
                            when unset: in-memory channel layer, local-memory cache, Celery tasks run in-process
- ``SECRET_KEY``            default: a random key created once in ``var/secret_key``
- ``FIELD_ENCRYPTION_KEY``  Fernet key(s), comma separated, newest first (MultiFernet rotation);
                            default: a random key created once in ``var/field_key``
- ``DEBUG``                 default off
- ``ALLOWED_HOSTS``         comma separated, default ``localhost,127.0.0.1,[::1]``
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AMARKTAI_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    value = os.environ.get(name)
    if not value:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def _local_secret(filename, factory):
    """Read a secret kept in var/, creating it (mode 0600) on first use."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / filename
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(factory())
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or _local_secret("secret_key", lambda: secrets.token_urlsafe(64))
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEY", []) or [
    _local_secret("field_key", lambda: Fernet.generate_key().decode())
]
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
REDIS_URL = os.environ.get("REDIS_URL", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "bots",
    "trading",
    "wallets",
    "chat",
    "realtime",
]

MIDDLEWARE = [
    "amarktai.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "amarktai.middleware.SyncChainMiddleware",  # last: one thread hop per request under Daphne (see its docstring)
]

ROOT_URLCONF = "amarktai.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "amarktai.wsgi.application"
ASGI_APPLICATION = "amarktai.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (web + in-process scheduler) share one SQLite file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Cache, channel layer, Celery: Redis in production, in-process by default -------------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "amarktai.redis_cache.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 10}}}
    # redis-py reads time out after 5 s by default, the same 5 s that channels-redis blocks waiting for a message on an
    # idle channel: without a longer read timeout an idle WebSocket/SSE consumer dies with "Timeout reading" (1011).
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                    "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}]}}
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "amarktai"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
# A task whose worker died (acks_late, never acknowledged) is handed to another worker after this many seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300"))}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {}

# --- REST framework, JWT, OpenAPI -------------------------------------------------------------------------
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
        "auth_ip": os.environ.get("THROTTLE_AUTH_IP", "30/min"),
        "auth_account": os.environ.get("THROTTLE_AUTH_ACCOUNT", "10/min"),
        "register_ip": os.environ.get("THROTTLE_REGISTER_IP", "10/hour"),
        "user": os.environ.get("THROTTLE_USER", "6000/min"),
    },
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "60"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=int(os.environ.get("JWT_REFRESH_DAYS", "7"))),
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

# --- Amarktai ---------------------------------------------------------------------------------------------
REQUIRE_INVITE_CODE = env_bool("REQUIRE_INVITE_CODE", False)
# Price source for paper trading: "simulated" (offline, reproducible) or "live" (exchange public tickers,
# falling back to the simulated feed when unreachable).
MARKET_DATA_SOURCE = os.environ.get("MARKET_DATA_SOURCE", "simulated")

# --- Security ---------------------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/system/ping$", r"^api/health$", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Cross-origin API access only for the origins named here (none by default: the portal is same-origin).
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
LOGIN_LOCKOUT_THRESHOLD = int(os.environ.get("LOGIN_LOCKOUT_THRESHOLD", "5"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- Real-time, health, metrics (realtime app) -------------------------------------------------------------
SSE_HEARTBEAT_SECONDS = float(os.environ.get("SSE_HEARTBEAT_SECONDS", "15"))
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Outermost, so request counts and latency cover the whole middleware chain and the final status code.
MIDDLEWARE = ["realtime.middleware.PrometheusMiddleware", *MIDDLEWARE]

# --- Bot engine (bots app) ---------------------------------------------------------------------------------
BOT_TICK_SECONDS = float(os.environ.get("BOT_TICK_SECONDS", "10"))
BOT_MAX_FAILURES = int(os.environ.get("BOT_MAX_FAILURES", "5"))
CELERY_BEAT_SCHEDULE = {
    "dispatch-bot-ticks": {"task": "bots.dispatch_ticks", "schedule": max(BOT_TICK_SECONDS / 2, 1.0)},
    "sync-open-orders": {"task": "trading.sync_open_orders", "schedule": 15.0},
}
