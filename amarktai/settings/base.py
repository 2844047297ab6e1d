"""Django's core: apps, middleware, templates, static files, logging."""

from amarktai.settings.env import BASE_DIR, VAR_DIR, env, env_bool, env_list, local_secret, random_secret_key

__all__ = [
    "ALLOWED_HOSTS",
    "ASGI_APPLICATION",
    "AUTH_PASSWORD_VALIDATORS",
    "AUTH_USER_MODEL",
    "BASE_DIR",
    "CACHES",
    "CSRF_TRUSTED_ORIGINS",
    "DEBUG",
    "DEFAULT_AUTO_FIELD",
    "INSTALLED_APPS",
    "LANGUAGE_CODE",
    "LOGGING",
    "MIDDLEWARE",
    "REDIS_URL",
    "REQUIRE_INVITE_CODE",
    "ROOT_URLCONF",
    "SECRET_KEY",
    "STATICFILES_DIRS",
    "STATIC_ROOT",
    "STATIC_URL",
    "STORAGES",
    "TEMPLATES",
    "TIME_ZONE",
    "USE_I18N",
    "USE_TZ",
    "VAR_DIR",
    "WHITENOISE_USE_FINDERS",
    "WSGI_APPLICATION",
]

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY") or local_secret("secret_key", random_secret_key)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Redis for the channel layer, Celery and the cache; unset: everything in process.
REDIS_URL = env("REDIS_URL", "")
# Registration needs an unused invite code (created in the Django admin).
REQUIRE_INVITE_CODE = env_bool("REQUIRE_INVITE_CODE", False)

INSTALLED_APPS = [
    "daphne",
    "accounts.admin_apps.AmarktaiAdminConfig",  # django.contrib.admin behind 2FA and the login throttles
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",  # refresh tokens: rotation, logout, log out everywhere
    "drf_spectacular",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Domain apps, lowest layer first (docs/architecture.md).
    "accounts",
    "realtime",
    "trading",
    "market",
    "wallets",
    "mirror",
    "bots",
    "research",
    "chat",
    "control",
    "notifications",
    "ranking",
]

MIDDLEWARE = [
    # Outermost, so request counts and latency cover the whole middleware chain and the final status code.
    "realtime.middleware.PrometheusMiddleware",
    "amarktai.middleware.BodySizeLimitMiddleware",  # 413 for an oversized body before anything reads it
    "amarktai.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "amarktai.middleware.LazyMessageMiddleware",  # Django's, building the message storage only when used (the admin)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "amarktai.middleware.SyncChainMiddleware",  # last: one thread hop per request under an ASGIHandler (its docstring)
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
# collectstatic writes each file also under a name with its content hash (portal/app.3f2a9c81d0e4.js) and a manifest;
# with DEBUG off, {% static %} names the hashed file, so a release changes every changed file's URL and nginx (or
# WhiteNoise) can cache hashed names for a year. With DEBUG on ({% static %} gives plain names, WhiteNoise serves them
# from the source tree: `make run`) no collectstatic is needed; with DEBUG off, pages fail until it has run.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "amarktai.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 10},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "amarktai"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # httpx logs every request's URL at INFO, and a Telegram Bot API URL carries the bot's token.
        "httpx": {"level": "WARNING"},
    },
}
