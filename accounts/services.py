"""Account rules: registration, login (with TOTP), 2FA enrolment, system mode, API keys, sessions (refresh rotation,
logout, log out everywhere), password change and reset. Reads are in accounts.selectors, response shapes in
accounts.payloads."""

import logging
import re
import secrets
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts import lockout, signals
from accounts.authentication import end_session, new_session_claims, session_ended, session_is_current
from accounts.models import LIVE_MODES, ApiKey, BackupCode, InviteCode, SystemMode, User, user_cache_key
from accounts.selectors import access_api_key, active_api_key_count, confirmed_device
from amarktai import cache
from amarktai.errors import AuthInvalid, AuthRequired, PermissionDenied, RateLimited, TotpReused, ValidationFailed

logger = logging.getLogger(__name__)


def issue_tokens(user: User) -> dict[str, str]:
    """A fresh JWT pair for a new session: {"token": access, "refresh": refresh}. The session's id and start time
    (accounts.authentication) go into the refresh token and from it into every access token it yields."""
    _forget_expired_refresh_tokens(user)
    refresh = RefreshToken.for_user(user)
    for claim, value in new_session_claims().items():
        refresh[claim] = value
    return {"token": str(refresh.access_token), "refresh": str(refresh)}


def _forget_expired_refresh_tokens(user: User) -> None:
    """The blacklist only needs tokens that could still be used: drop the user's expired ones (and their blacklist
    rows) whenever the user gets a new one, so the tables stay the size of the live sessions."""
    OutstandingToken.objects.filter(user=user, expires_at__lte=timezone.now()).delete()


# Registration must not tell a stranger whether an email has an account. The contract (and the portal) answer a new
# email with tokens at once, so a taken email cannot get the same answer; what it can do is come last: every other check
# (invite code, password rules) runs first, so the only request that learns an email is taken is one that would have
# created the account had it been free, spending an invite code (when required) and the per-address registration
# budget. The refusal names no reason of its own beyond what a valid request implies.
REGISTRATION_REFUSED = "Could not register with this email address. If you have an account, sign in instead."


@transaction.atomic
def register(email: str, password: str, first_name: str = "", invite_code: str | None = None) -> User:
    email = User.objects.normalize_email(email).strip().lower()
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
    refused = ValidationFailed(REGISTRATION_REFUSED, details={"email": [REGISTRATION_REFUSED]})
    if User.objects.filter(email__iexact=email).exists():
        raise refused
    try:
        user = User.objects.create_user(email=email, password=password, first_name=first_name)
    except IntegrityError as exc:  # a concurrent registration won the race
        raise refused from exc
    if invite is not None:
        invite.used_by = user
        invite.used_at = timezone.now()
        invite.save(update_fields=["used_by", "used_at"])
    return user


def _totp_ok(device: Any, code: str, reused_status: int = 401) -> bool:
    """Check a TOTP code; a code already used raises TotpReused (with ``reused_status``). While django-otp's growing
    delay after a wrong code (1 s, 2 s, 4 s...) runs, say so with
    RATE_LIMIT and the wait, instead of calling a possibly correct code invalid."""
    allowed, info = device.verify_is_allowed()
    if not allowed:
        locked_until = (info or {}).get("locked_until")
        wait = max(1, int((locked_until - timezone.now()).total_seconds() + 0.999)) if locked_until else 1
        unit = "second" if wait == 1 else "seconds"
        raise RateLimited(f"Too many wrong two-factor codes. Try again in {wait} {unit}.", retry_after=wait)
    code = str(code).strip()
    if not re.fullmatch(r"[0-9]{6,8}", code):  # ASCII digits only: int() would also take other scripts' digits
        return False
    if _totp_reused(device, code):
        raise TotpReused(status=reused_status, details={"totp_code": [TotpReused.default_message]})
    return device.verify_token(code)


def _totp_reused(device: Any, code: str) -> bool:
    """Whether ``code`` is a code of the device's current window that has already been used (django-otp accepts each
    time step once, tracked in ``last_t``): it deserves "wait for the next one", not "invalid". Records nothing."""
    if not isinstance(device, TOTPDevice) or device.last_t < 0:
        return False
    token = int(code)
    fresh = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    fresh.time = time.time()
    if fresh.verify(token, device.tolerance, device.last_t + 1):
        return False
    seen = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    seen.time = time.time()
    return bool(seen.verify(token, device.tolerance))


def _code_is_current(device: TOTPDevice, code: str) -> bool:
    """Whether ``code`` is the device's TOTP code right now (and not one already used), without recording anything: no
    throttle step, no drift, no last use. Decides only whether a refused login may have its password checked at all,
    so a stranger's wrong codes cannot slow the owner's device down."""
    try:
        token = int(str(code).strip())
    except ValueError:
        return False
    check = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    check.time = time.time()
    return bool(check.verify(token, device.tolerance, device.last_t + 1))


BACKUP_CODE_COUNT = 10
BACKUP_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read from paper without mistakes
BACKUP_CODE_LENGTH = 10


def _normalize_backup_code(code: str) -> str | None:
    """A backup code as typed ("k7m2p-9xq4r", any case, spaces or dashes) in canonical form, or None if it is not one.
    TOTP codes are 6 to 8 digits, backup codes 10 characters: the two never overlap."""
    text = re.sub(r"[\s-]", "", str(code or "")).lower()
    if len(text) != BACKUP_CODE_LENGTH or any(c not in BACKUP_CODE_ALPHABET for c in text):
        return None
    return text


def _backup_code_hash(user_id: Any, code: str) -> str:
    return salted_hmac("amarktai.accounts.BackupCode", f"{user_id}:{code}", algorithm="sha256").hexdigest()


def generate_backup_codes(user: User) -> list[str]:
    """Replace the user's backup codes with BACKUP_CODE_COUNT new ones; the raw codes are returned, only hashes kept."""
    codes = [
        "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
        for _ in range(BACKUP_CODE_COUNT)
    ]
    with transaction.atomic():
        BackupCode.objects.owned_by(user).delete()
        BackupCode.objects.bulk_create([BackupCode(user=user, code_hash=_backup_code_hash(user.pk, c)) for c in codes])
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def _backup_code_unused(user_id: Any, code: str) -> bool:
    """Whether ``code`` is one of the user's unused backup codes, without spending it."""
    canonical = _normalize_backup_code(code)
    if canonical is None:
        return False
    found = BackupCode.objects.filter(user_id=user_id, code_hash=_backup_code_hash(user_id, canonical))
    return found.filter(used_at__isnull=True).exists()


def _spend_backup_code(user: User, code: str) -> bool:
    """Spend one of the user's unused backup codes: True once per code, even for concurrent requests (one UPDATE)."""
    canonical = _normalize_backup_code(code)
    if canonical is None:
        return False
    spent = (
        BackupCode.objects.owned_by(user)
        .filter(code_hash=_backup_code_hash(user.pk, canonical), used_at__isnull=True)
        .update(used_at=timezone.now())
    )
    if spent:
        logger.info("user %s signed in with a backup code", user.pk)
    return spent == 1


def _second_factor_ok(user: User, device: Any, code: str) -> bool:
    """A TOTP code of the device or one of the user's backup codes (spent by this call)."""
    if _normalize_backup_code(code) is not None:
        return _spend_backup_code(user, code)
    return device is not None and _totp_ok(device, code)


def _failed(email: str, address: str) -> None:
    """Count a failed login; the one that puts the account under attack emails its owner (LOGIN_LOCKOUT_NOTIFY)."""
    if lockout.record_failure(email, address) and settings.LOGIN_LOCKOUT_NOTIFY:
        _warn_of_attack(email)


def _warn_of_attack(email: str) -> None:
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        return
    minutes = max(1, settings.LOGIN_LOCKOUT_ACCOUNT_WINDOW // 60)
    lines = [
        f"Your Amarktai account ({user.email}) has had {settings.LOGIN_LOCKOUT_ACCOUNT_CEILING} failed sign-ins from"
        f" several addresses within {minutes} minutes. Someone may be guessing your password.",
        "",
        "You can still sign in from a device you have used before. For a while, a new device needs your two-factor"
        " code as well as your password.",
        "If this was not you, choose a strong password you use nowhere else and turn on two-factor authentication.",
    ]
    try:
        send_mail("Failed sign-ins on your Amarktai account", "\n".join(lines), None, [user.email])
    except Exception:  # a mail outage must not turn a failed login into a server error
        logger.exception("could not send the failed sign-in warning to user %s", user.pk)


def _login_past_refusal(
    email: str, password: str, totp_code: str | None, request: Any, address: str, refusal: RateLimited
) -> User:
    """A login that the lockout refuses: it passes only with the right password and a valid two-factor code; every
    other request gets the refusal, whatever its password (no oracle), and only one carrying a code that is valid right
    now gets a password check at all."""
    device = (
        TOTPDevice.objects.select_related("user")
        .filter(user__email__iexact=email, user__two_factor_enabled=True, user__is_active=True, confirmed=True)
        .first()
    )
    if not totp_code or device is None:
        raise refusal
    if not (_code_is_current(device, totp_code) or _backup_code_unused(device.user_id, totp_code)):
        raise refusal
    user = authenticate(request, username=email, password=password)
    if user is None or user.pk != device.user_id:
        _failed(email, address)
        raise refusal
    try:
        passed = _second_factor_ok(user, device, totp_code)
    except TotpReused:
        passed = False
    if not passed:
        _failed(email, address)
        raise refusal
    lockout.record_success(email, address)
    user.otp_device = device  # type: ignore[attr-defined]  # django_otp.login() marks the session verified from it
    _signed_in(user, request)
    return user


def login(email: str, password: str, totp_code: str | None = None, request: Any = None) -> User:
    """Password, then the TOTP code when 2FA is on; failures feed accounts.lockout (per account and client address,
    and per account). On success the user carries ``otp_device`` when a code was checked."""
    email = (email or "").strip().lower()
    address = lockout.address_of(request)
    refusal = lockout.refusal(email, address)
    if refusal is not None:
        return _login_past_refusal(email, password, totp_code, request, address, refusal)
    user = authenticate(request, username=email, password=password)
    if user is None:
        _failed(email, address)
        raise AuthInvalid("Invalid email or password")
    if user.two_factor_enabled:
        device = confirmed_device(user)
        if not totp_code:
            raise AuthRequired("Two-factor code required", details={"two_factor_required": True})
        # django-otp refuses a code already used (no replay within its window: TotpReused says so) and adds its own
        # growing delay. A backup code works once instead of a TOTP code.
        try:
            passed = _second_factor_ok(user, device, totp_code)
        except TotpReused as exc:  # the owner typed a code twice: no failed login, and keep asking for a code
            raise TotpReused(details={"two_factor_required": True, "totp_code": [exc.message]}) from exc
        if not passed:
            _failed(email, address)
            raise AuthInvalid("Invalid two-factor code", details={"two_factor_required": True})
        user.otp_device = device  # type: ignore[attr-defined]
    lockout.record_success(email, address)
    _signed_in(user, request)
    return user


def _signed_in(user: User, request: Any) -> None:
    """Tell the layers above of a successful login (accounts.signals.signed_in); their failures never fail it."""
    for receiver, result in signals.signed_in.send_robust(sender=User, user=user, request=request):
        if isinstance(result, Exception):
            logger.warning("signed_in receiver %r failed", receiver, exc_info=result)


@transaction.atomic
def enroll_2fa(user: User) -> TOTPDevice:
    """Start TOTP enrolment: a fresh unconfirmed device (accounts.payloads.enrolment_payload shows its secret, once)."""
    if user.two_factor_enabled:
        raise ValidationFailed("Two-factor authentication is already enabled")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=False)


@transaction.atomic
def verify_2fa(user: User, code: str) -> list[str]:
    """Confirm the enrolment with a code of the new device: 2FA is on, and the user's first backup codes (returned,
    shown once) are generated."""
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
    return generate_backup_codes(user)


def regenerate_backup_codes(user: User, password: str | None = None, totp_code: str | None = None) -> list[str]:
    """New backup codes (the old ones stop working), for a signed-in user with 2FA who proves it again with the
    password or a current TOTP code."""
    if not user.two_factor_enabled:
        raise ValidationFailed("Turn on two-factor authentication first")
    if password:
        if not user.check_password(password):
            raise ValidationFailed("password: incorrect", details={"password": ["incorrect"]})
    elif totp_code:
        device = confirmed_device(user)
        if device is None or not _totp_ok(device, totp_code, reused_status=400):
            raise ValidationFailed("Invalid two-factor code", details={"totp_code": ["invalid or expired"]})
    else:
        raise ValidationFailed(
            "Confirm with your password or a two-factor code",
            details={"password": ["password or totp_code required"]},
        )
    return generate_backup_codes(user)


def update_profile(user: User, changes: dict[str, Any]) -> User:
    """Change the user's profile: ``currency``, the base currency every total is converted into (one of
    BASE_CURRENCIES, checked by the serializer). Saving drops the cached user, so the next request already converts
    into the new currency."""
    if "currency" in changes:
        user.currency = changes["currency"]
        user.save(update_fields=["currency"])
    return user


def set_mode(user: User, mode: str) -> User:
    if mode not in SystemMode.values:
        raise ValidationFailed(f"mode must be one of: {', '.join(SystemMode.values)}", details={"mode": ["invalid"]})
    if mode in LIVE_MODES and not user.two_factor_enabled:
        raise PermissionDenied("Enable two-factor authentication before switching to live trading")
    user.system_mode = mode
    user.save(update_fields=["system_mode"])
    return user


def create_api_key(
    user: User, name: str, scopes: list[str] | None = None, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for the user: (ApiKey, raw key). The raw key is never stored. ``scopes`` default to read only
    (``trade`` implies ``read``); ``expires_at``, if given, must lie in the future."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name: required, at most 100 characters", details={"name": ["required"]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("expires_at: must be in the future", details={"expires_at": ["must be in the future"]})
    if active_api_key_count(user) >= 20:
        raise ValidationFailed("At most 20 active API keys per user")
    return ApiKey.generate(user, name, scopes=scopes, expires_at=expires_at)


def revoke_api_key(user: User, key_id: Any) -> ApiKey:
    key = access_api_key(user, key_id)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    return key


# ------------------------------------------------------------------ sessions and passwords


def _refresh_token(raw: str) -> RefreshToken:
    """The refresh token, verified (signature, expiry, type, not blacklisted), or AuthInvalid."""
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]  # the stubs say Token; it takes the encoded token
    except TokenError as exc:
        raise AuthInvalid("Invalid or expired refresh token") from exc


def _token_user(token: RefreshToken) -> User | None:
    try:
        return User.objects.filter(pk=token.get(jwt_settings.USER_ID_CLAIM), is_active=True).first()
    except (DjangoValidationError, ValueError):
        return None


def _successor_key(jti: str) -> str:
    return f"auth:refresh-successor:{jti}"


def _rotating_key(jti: str) -> str:
    return f"auth:refresh-rotating:{jti}"


def _rotating_jti(raw: str) -> str | None:
    try:
        return str(UntypedToken(raw)[jwt_settings.JTI_CLAIM])  # type: ignore[arg-type]
    except (TokenError, KeyError):
        return None


def _grace_successor(raw: str) -> dict[str, str] | None:
    """The pair a recently rotated cookie refresh token was exchanged for (following further rotations within the grace
    window), if that successor is still a valid refresh token of a current session; else None."""
    try:
        jti = UntypedToken(raw)[jwt_settings.JTI_CLAIM]  # type: ignore[arg-type]  # signature and expiry only
    except (TokenError, KeyError):
        return None
    for _ in range(8):
        successor = cache.get(_successor_key(jti))
        if not isinstance(successor, dict):
            return None
        try:
            token = RefreshToken(successor["refresh"])
        except TokenError:  # blacklisted since: rotated again (follow it) or logged out (its successor is absent)
            try:
                jti = UntypedToken(successor["refresh"])[jwt_settings.JTI_CLAIM]
            except (TokenError, KeyError):
                return None
            continue
        user = _token_user(token)
        if user is None or not session_is_current(user, token) or session_ended(token):
            return None
        return dict(successor)
    return None


def _wait_for_successor(raw: str, seconds: float = 3.0) -> dict[str, str] | None:
    """A concurrent request is rotating the same token right now: its successor appears in the cache in a moment."""
    deadline = time.monotonic() + seconds
    while True:
        successor = _grace_successor(raw)
        if successor is not None or time.monotonic() >= deadline:
            return successor
        time.sleep(0.05)


def refresh_session(raw: str, *, grace: bool = False) -> dict[str, str]:
    """Rotate a refresh token: {"token", "refresh"} for the same session, and the given refresh token blacklisted.
    A refresh token therefore works once: of two requests racing with the same one, only one wins.

    With ``grace`` (the portal's cookie, accounts.cookies), a token rotated less than AUTH_REFRESH_GRACE_SECONDS ago
    gets the pair it was rotated into instead of a refusal, so two tabs of one browser refreshing at the same moment
    both carry on. Bearer clients never get that grace."""
    if grace:
        successor = _grace_successor(raw)
        if successor is not None:
            return successor
        try:
            refresh = _refresh_token(raw)
        except AuthInvalid:
            # Blacklisted a moment ago by a concurrent request that is still writing its successor: wait for it.
            rotating = _rotating_jti(raw)
            successor = _wait_for_successor(raw) if rotating and cache.get(_rotating_key(rotating)) else None
            if successor is None:
                raise
            return successor
    else:
        refresh = _refresh_token(raw)
    user = _token_user(refresh)
    if user is None or not session_is_current(user, refresh) or session_ended(refresh):
        raise AuthInvalid("This session has ended; log in again")
    jti = refresh[jwt_settings.JTI_CLAIM]
    if grace:
        cache.set(_rotating_key(jti), True, 10)  # before the blacklist: a racing request then knows to wait
    with transaction.atomic():
        outstanding, _ = OutstandingToken.objects.get_or_create(
            jti=jti,
            defaults={
                "user": user,
                "token": raw,
                "created_at": refresh.current_time,
                "expires_at": datetime_from_epoch(refresh["exp"]),
            },
        )
        _, first_use = BlacklistedToken.objects.get_or_create(token=outstanding)
    if not first_use:
        successor = _wait_for_successor(raw) if grace else None
        if successor is not None:
            return successor
        raise AuthInvalid("This refresh token has already been used")
    _forget_expired_refresh_tokens(user)
    refresh.set_jti()
    refresh.set_exp()
    refresh.set_iat()
    OutstandingToken.objects.create(
        user=user,
        jti=refresh[jwt_settings.JTI_CLAIM],
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    tokens = {"token": str(refresh.access_token), "refresh": str(refresh)}
    if grace and settings.AUTH_REFRESH_GRACE_SECONDS > 0:
        cache.set(_successor_key(jti), tokens, settings.AUTH_REFRESH_GRACE_SECONDS)
    return tokens


def _blacklist_successors(jti: str, wait: float) -> bool:
    """Blacklist every pair a cookie with this jti was rotated into (waiting up to ``wait`` seconds for a rotation under
    way to write its successor). Whether there was one."""
    deadline = time.monotonic() + wait
    successor = cache.get(_successor_key(jti))
    while not isinstance(successor, dict) and time.monotonic() < deadline:
        time.sleep(0.05)
        successor = cache.get(_successor_key(jti))
    found = False
    for _ in range(8):
        if not isinstance(successor, dict):
            break
        found = True
        try:
            next_jti = str(UntypedToken(successor["refresh"])[jwt_settings.JTI_CLAIM])
        except (TokenError, KeyError):
            break
        try:
            RefreshToken(successor["refresh"]).blacklist()
        except TokenError:  # already blacklisted: rotated again (followed next) or logged out
            pass
        successor = cache.get(_successor_key(next_jti))
    return found


def logout(raw_refresh: str, *, grace: bool = False) -> None:
    """End one session: its refresh token is blacklisted and its access tokens are refused from now on.

    With ``grace`` (the portal's cookie), a cookie that a refresh racing with this logout has just rotated still ends
    the session: the session is marked ended at once (a racing refresh then hands out nothing that works), and the
    successor it was rotated into is blacklisted too."""
    if not grace:
        refresh = _refresh_token(raw_refresh)
        refresh.blacklist()
        end_session(refresh)
        return
    try:
        signed = UntypedToken(raw_refresh)  # type: ignore[arg-type]  # signature and expiry; blacklisted or not
    except TokenError as exc:
        raise AuthInvalid("Invalid or expired refresh token") from exc
    if signed.get("token_type") != "refresh":
        raise AuthInvalid("Invalid or expired refresh token")
    end_session(signed)
    try:
        _refresh_token(raw_refresh).blacklist()
    except AuthInvalid:
        # Already spent: by a rotation (its marker is set before the blacklist), whose successor must go too.
        jti = str(signed[jwt_settings.JTI_CLAIM])
        if not (cache.get(_rotating_key(jti)) and _blacklist_successors(jti, wait=3.0)):
            raise


def _announce_revocation(user_id: Any, reason: str) -> None:
    # Again after commit: a request that read the user between the save and the commit may have cached the old row.
    cache.delete_many([user_cache_key(user_id)])
    for receiver, error in signals.sessions_revoked.send_robust(sender=User, user_id=user_id, reason=reason):
        if isinstance(error, Exception):  # the sessions are revoked all the same; the periodic re-checks still run
            logger.error("sessions_revoked receiver %r failed for user %s", receiver, user_id, exc_info=error)


@transaction.atomic
def revoke_sessions(user: User, reason: str = signals.REASON_LOGOUT_EVERYWHERE) -> None:
    """Log the user out everywhere: every JWT issued so far is refused (``tokens_valid_after``), every refresh token is
    blacklisted, and once this commits ``sessions_revoked`` tells realtime to close the user's sockets. API keys are
    separate credentials and stay as they are (revoke them one by one)."""
    now = timezone.now()
    user.tokens_valid_after = now
    user.save(update_fields=["tokens_valid_after"])
    live = OutstandingToken.objects.filter(user=user, expires_at__gt=now, blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=t) for t in live], ignore_conflicts=True)
    user_id = user.pk
    transaction.on_commit(lambda: _announce_revocation(user_id, reason), robust=True)


def _check_new_password(password: str, user: User, field: str = "new_password") -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed(f"{field}: " + " ".join(exc.messages), details={field: exc.messages}) from exc


@transaction.atomic
def change_password(user: User, old_password: str, new_password: str) -> dict[str, str]:
    """Change the password (the current one is required) and end every session; returns a fresh JWT pair so the
    session that made the change carries on."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.check_password(old_password):
        raise ValidationFailed("old_password: incorrect", details={"old_password": ["incorrect"]})
    _check_new_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    revoke_sessions(user, signals.REASON_PASSWORD_CHANGED)
    return issue_tokens(user)


def _reset_link(uid: str, token: str) -> str:
    if settings.PASSWORD_RESET_URL:
        return f"{settings.PASSWORD_RESET_URL}?{urlencode({'uid': uid, 'token': token})}"
    return ""


def request_password_reset(email: str) -> None:
    """Email a single-use, time-limited reset token to the account with this address, if there is an active one.
    Says nothing either way: the caller answers the same whether or not the account exists."""
    email = (email or "").strip().lower()
    user = User.objects.filter(email__iexact=email, is_active=True).first() if email else None
    if user is None or not user.has_usable_password():
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    minutes = max(1, settings.PASSWORD_RESET_TIMEOUT // 60)
    link = _reset_link(uid, token)
    lines = [
        "Someone asked to reset the password of your Amarktai account. If it was not you, ignore this email: your",
        "password stays as it is.",
        "",
        *([f"Choose a new password here: {link}", ""] if link else []),
        f"uid: {uid}",
        f"token: {token}",
        "",
        'To reset it through the API: POST /api/auth/password/reset/confirm {"uid", "token", "new_password"}.',
        f"The token works once, for {minutes} minutes. Resetting the password logs you out everywhere.",
    ]
    try:
        send_mail("Reset your Amarktai password", "\n".join(lines), None, [user.email])
    except Exception:  # a mail outage must not tell the caller that the account exists
        logger.exception("could not send the password reset email to user %s", user.pk)


def _user_for_reset(uid: str) -> User | None:
    try:
        pk = force_str(urlsafe_base64_decode(uid))
        return User.objects.select_for_update().filter(pk=pk, is_active=True).first()
    except (DjangoValidationError, ValueError, TypeError, OverflowError):
        return None


@transaction.atomic
def reset_password(uid: str, token: str, new_password: str) -> User:
    """Set a new password with a token from request_password_reset, and end every session. The token is bound to the
    old password, so it stops working once used, and to PASSWORD_RESET_TIMEOUT."""
    user = _user_for_reset(uid)
    if user is None or not default_token_generator.check_token(user, token):
        raise ValidationFailed("The reset token is invalid or has expired", details={"token": ["invalid or expired"]})
    _check_new_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    revoke_sessions(user, signals.REASON_PASSWORD_RESET)
    return user
