"""The Django admin's front door: the API's login rules, and a second factor.

Its login form goes through accounts.services.login (the lockout, and the TOTP code of a user with 2FA) after the same
throttles as POST /api/auth/login (accounts.throttles.check_login, the same buckets), so the admin is no side door for
guessing passwords. A session enters the admin only once an OTP device has verified it (django-otp's OTPMiddleware
marks it); in production (not DEBUG) staff without a confirmed device cannot enter at all. With DEBUG, staff without 2FA
may use their password alone; staff with 2FA always need their code."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from accounts import services, throttles
from amarktai.errors import AuthInvalid, AuthRequired, RateLimited, TotpReused

CODE_REQUIRED = "Enter the six-digit code from your authenticator app."
CODE_INVALID = "That two-factor code is not valid. Enter the current code from your authenticator app."
DEVICE_REQUIRED = (
    "The admin requires two-factor authentication. Turn it on in the portal (Security, Two-factor authentication), "
    "then sign in here with your code."
)


class AdminLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        required=False,
        max_length=16,  # a backup code (k7m2p-9xq4r) works here too
        label="Two-factor code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data  # the missing field has its own error
        code = (self.cleaned_data.get("otp_token") or "").strip() or None
        try:
            throttles.check_login(self.request, email)
            user = services.login(email, password, code, request=self.request)
        except RateLimited as exc:
            raise ValidationError(exc.message, code="rate_limited") from exc
        except AuthRequired as exc:
            raise ValidationError(CODE_REQUIRED, code="otp_required") from exc
        except TotpReused as exc:
            raise ValidationError(exc.message, code="otp_reused") from exc
        except AuthInvalid as exc:
            if (exc.details or {}).get("two_factor_required"):
                raise ValidationError(CODE_INVALID, code="otp_invalid") from exc
            raise self.get_invalid_login_error() from exc
        self.confirm_login_allowed(user)  # active staff only, with the same message as a wrong password
        if getattr(user, "otp_device", None) is None and not settings.DEBUG:
            raise ValidationError(DEVICE_REQUIRED, code="otp_device_required")
        # LoginView logs the user in; django-otp's user_logged_in handler then marks the session verified by the
        # device services.login left on the user.
        self.user_cache = user
        return self.cleaned_data


class AmarktaiAdminSite(AdminSite):
    login_form = AdminLoginForm
    login_template = "otp/admin111/login.html"  # django-otp's admin login page: it shows the code field

    def has_permission(self, request: Any) -> bool:
        if not super().has_permission(request):
            return False
        user = request.user
        if user.is_verified():
            return True
        return settings.DEBUG and not user.two_factor_enabled
