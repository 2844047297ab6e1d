"""Outgoing email (password reset). With no ``EMAIL_HOST`` the messages are written to the console, which suits the
embedded default; set ``EMAIL_HOST`` (and usually the user, password and TLS) to send them through an SMTP server."""

from amarktai.settings.env import env, env_bool, env_int

__all__ = [
    "DEFAULT_FROM_EMAIL",
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_HOST_USER",
    "EMAIL_PORT",
    "EMAIL_TIMEOUT",
    "EMAIL_USE_SSL",
    "EMAIL_USE_TLS",
    "PASSWORD_RESET_TIMEOUT",
    "PASSWORD_RESET_URL",
]

EMAIL_HOST = env("EMAIL_HOST", "")
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Amarktai <no-reply@localhost>")

# A password reset token works once (it is bound to the password it replaces) and for this many seconds.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600)
# The portal page a reset email links to, given ?uid=...&token=...; unset: the email carries the two values and the API
# call to make with them.
PASSWORD_RESET_URL = env("PASSWORD_RESET_URL", "")
