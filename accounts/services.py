"""Account rules: registration, login (with TOTP), 2FA enrolment, system mode, API keys. Reads are in
accounts.selectors, response shapes in accounts.payloads."""

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import lockout
from accounts.models import LIVE_MODES, ApiKey, InviteCode, SystemMode, User
from accounts.selectors import access_api_key, active_api_key_count, confirmed_device
from amarktai.errors import AuthInvalid, AuthRequired, PermissionDenied, RateLimited, ValidationFailed


def issue_tokens(user: User) -> dict[str, str]:
    """A fresh JWT pair: {"token": access, "refresh": refresh}."""
    refresh = RefreshToken.for_user(user)
    return {"token": str(refresh.access_token), "refresh": str(refresh)}


@transaction.atomic
def register(email: str, password: str, first_name: str = "", invite_code: str | None = None) -> User:
    email = User.objects.normalize_email(email).strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed("An account with this email already exists", details={"email": ["already registered"]})
    invite = None
    if invite_code:
        invite = InviteCode.objects.select_for_update().filter(code=invite_code).first()
        if invite is None or invite.used_by_id is not None:
            raise ValidationFailed("Invite code is invalid or already used", details={"invite_code": ["invalid"]})
    elif settings.REQUIRE_INVITE_CODE:
        raise ValidationFailed("An invite code is required to register", details={"invite_code": ["required"]})
    candidate = User(email=email, first_name=first_name)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed("password: " + " ".join(exc.messages), details={"password": exc.messages}) from exc
    try:
        user = User.objects.create_user(email=email, password=password, first_name=first_name)
    except IntegrityError as exc:  # a concurrent registration won the race
        raise ValidationFailed(
            "An account with this email already exists", details={"email": ["already registered"]}
        ) from exc
    if invite is not None:
        invite.used_by = user
        invite.used_at = timezone.now()
        invite.save(update_fields=["used_by", "used_at"])
    return user


def _totp_ok(device: Any, code: str) -> bool:
    """Check a TOTP code. While django-otp's growing delay after a wrong code (1 s, 2 s, 4 s...) runs, say so with
    RATE_LIMIT and the wait, instead of calling a possibly correct code invalid."""
    allowed, info = device.verify_is_allowed()
    if not allowed:
        locked_until = (info or {}).get("locked_until")
        wait = max(1, int((locked_until - timezone.now()).total_seconds() + 0.999)) if locked_until else 1
        unit = "second" if wait == 1 else "seconds"
        raise RateLimited(f"Too many wrong two-factor codes. Try again in {wait} {unit}.", retry_after=wait)
    return device.verify_token(str(code).strip())


def login(email: str, password: str, totp_code: str | None = None, request: Any = None) -> User:
    email = (email or "").strip().lower()
    lockout.check(email)
    user = authenticate(request, username=email, password=password)
    if user is None:
        lockout.record_failure(email)
        raise AuthInvalid("Invalid email or password")
    if user.two_factor_enabled:
        device = confirmed_device(user)
        if not totp_code:
            raise AuthRequired("Two-factor code required", details={"two_factor_required": True})
        # django-otp refuses a code already used (no replay within its window) and adds its own growing delay.
        if device is None or not _totp_ok(device, totp_code):
            lockout.record_failure(email)
            raise AuthInvalid("Invalid two-factor code", details={"two_factor_required": True})
    lockout.reset(email)
    return user


@transaction.atomic
def enroll_2fa(user: User) -> TOTPDevice:
    """Start TOTP enrolment: a fresh unconfirmed device (accounts.payloads.enrolment_payload shows its secret, once)."""
    if user.two_factor_enabled:
        raise ValidationFailed("Two-factor authentication is already enabled")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=False)


@transaction.atomic
def verify_2fa(user: User, code: str) -> User:
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        if user.two_factor_enabled:
            raise ValidationFailed("Two-factor authentication is already enabled")
        raise ValidationFailed("Start enrolment first (POST /api/auth/2fa/enroll)")
    if not _totp_ok(device, code):
        raise ValidationFailed("Invalid TOTP code", details={"totp_code": ["invalid or expired"]})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    user.two_factor_enabled = True
    user.save(update_fields=["two_factor_enabled"])
    return user


def set_mode(user: User, mode: str) -> User:
    if mode not in SystemMode.values:
        raise ValidationFailed(f"mode must be one of: {', '.join(SystemMode.values)}", details={"mode": ["invalid"]})
    if mode in LIVE_MODES and not user.two_factor_enabled:
        raise PermissionDenied("Enable two-factor authentication before switching to live trading")
    user.system_mode = mode
    user.save(update_fields=["system_mode"])
    return user


def create_api_key(user: User, name: str) -> tuple[ApiKey, str]:
    """A new key for the user: (ApiKey, raw key). The raw key is never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name: required, at most 100 characters", details={"name": ["required"]})
    if active_api_key_count(user) >= 20:
        raise ValidationFailed("At most 20 active API keys per user")
    return ApiKey.generate(user, name)


def revoke_api_key(user: User, key_id: Any) -> ApiKey:
    key = access_api_key(user, key_id)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    return key
