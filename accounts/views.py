"""Thin views over accounts.services and accounts.selectors: auth, sessions, passwords, 2FA, API keys, system mode.
Responses are shaped by accounts.payloads. What could take an account over needs a password session
(accounts.permissions.PASSWORD_SESSION): an API key cannot do it."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import cookies, selectors, services
from accounts.payloads import (
    api_key_payload,
    backup_codes_payload,
    enrolment_payload,
    mode_payload,
    new_api_key_payload,
    user_payload,
)
from accounts.permissions import PASSWORD_SESSION, PASSWORD_SESSION_FOR_CHANGES
from accounts.serializers import (
    ApiKeyCreateSerializer,
    BackupCodeRegenerateSerializer,
    BackupCodesStatusSerializer,
    CookieRefreshSerializer,
    LoginSerializer,
    MeResponseSerializer,
    ModeSerializer,
    NewBackupCodesSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TotpCodeSerializer,
)
from accounts.throttles import AuthAccountThrottle, AuthIPThrottle, RefreshThrottle, RegisterIPThrottle
from amarktai.api import validated
from amarktai.errors import AuthInvalid, error_body

SESSION_MODE = OpenApiParameter(
    cookies.MODE_HEADER,
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    enum=[cookies.COOKIE_MODE],
    description="cookie: the refresh token goes into the HttpOnly amk_refresh cookie instead of the body (the portal).",
)
CSRF_HEADER = OpenApiParameter(
    "X-CSRFToken",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="The csrftoken cookie's value; required when the refresh token comes from the amk_refresh cookie.",
)


def _session_response(request, tokens, extra=None, *, new_login=False, cookie=None):
    """A JWT pair as the contract answers it, or in the cookie flow (accounts.cookies) with the refresh token moved
    from the body into the HttpOnly cookie."""
    cookie = cookies.wants_cookie(request) if cookie is None else cookie
    response = Response({**cookies.token_body(tokens, cookie), **(extra or {})})
    if cookie:
        cookies.set_refresh_cookie(response, request, tokens["refresh"], new_login=new_login)
    return response


def _cookie_refresh_token(request, data):
    """(refresh token, came from the cookie). Without a body token the cookie is used, and then CSRF is checked;
    with neither, the contract's 400 for a missing ``refresh``."""
    if data.get("refresh") is not None:
        return data["refresh"], False
    raw = cookies.refresh_cookie(request)
    if raw is None:
        validated(RefreshSerializer, request.data)  # raises: refresh is required
    cookies.check_csrf(request)
    return raw, True


@extend_schema(parameters=[SESSION_MODE])
class RegisterView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [RegisterIPThrottle]
    serializer_class = RegisterSerializer

    def post(self, request):
        data = validated(RegisterSerializer, request.data)
        user = services.register(data["email"], data["password"], data.get("first_name", ""), data.get("invite_code"))
        tokens = services.issue_tokens(user)
        return _session_response(request, tokens, {"user": user_payload(user)}, new_login=True)


@extend_schema(parameters=[SESSION_MODE])
class LoginView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AuthIPThrottle, AuthAccountThrottle]
    throttle_bucket = "login"
    serializer_class = LoginSerializer

    def post(self, request):
        data = validated(LoginSerializer, request.data)
        user = services.login(data["email"], data["password"], data.get("totp_code"), request=request)
        tokens = services.issue_tokens(user)
        return _session_response(request, tokens, {"user": user_payload(user)}, new_login=True)


@extend_schema(parameters=[SESSION_MODE, CSRF_HEADER])
class RefreshView(GenericAPIView):
    """A new access token and a new refresh token; the refresh token sent is spent (rotation with a blacklist). The
    refresh token comes from the body or, when the body has none, from the portal's cookie (CSRF-checked)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [RefreshThrottle]
    throttle_bucket = "refresh"
    serializer_class = CookieRefreshSerializer

    def post(self, request):
        raw, from_cookie = _cookie_refresh_token(request, validated(CookieRefreshSerializer, request.data))
        cookie = from_cookie or cookies.wants_cookie(request)
        try:
            tokens = services.refresh_session(raw, grace=from_cookie)  # a body token is single use, whatever the mode
        except AuthInvalid as exc:
            if not from_cookie:
                raise
            response = Response(error_body(exc.message, exc.error_code, exc.details), status=exc.status)
            cookies.clear_refresh_cookie(response)  # a dead cookie is not sent again
            return response
        return _session_response(request, tokens, {"access": tokens["token"]}, cookie=cookie)


@extend_schema(parameters=[CSRF_HEADER])
class LogoutView(GenericAPIView):
    """End this session: the refresh token (from the body, or else the portal's cookie, CSRF-checked) is blacklisted
    and the session's access tokens are refused. The cookie is cleared."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AuthIPThrottle]
    throttle_bucket = "logout"
    serializer_class = CookieRefreshSerializer

    def post(self, request):
        raw, from_cookie = _cookie_refresh_token(request, validated(CookieRefreshSerializer, request.data))
        try:
            services.logout(raw, grace=from_cookie)
        except AuthInvalid:
            if not from_cookie:
                raise  # a cookie that no longer works is a session already over: clear it all the same
        response = Response({"success": True, "message": "Logged out"})
        cookies.clear_refresh_cookie(response)
        return response


class LogoutEverywhereView(GenericAPIView):
    """End every session of the user (this one too) and close the user's sockets. Password session only."""

    permission_classes = PASSWORD_SESSION

    @extend_schema(request=None)
    def post(self, request):
        services.revoke_sessions(request.user)
        response = Response({"success": True, "message": "Logged out everywhere"})
        cookies.clear_refresh_cookie(response)
        return response


@extend_schema(parameters=[SESSION_MODE])
class PasswordChangeView(GenericAPIView):
    """Change the password (the current one is required); every other session ends, this one gets new tokens."""

    permission_classes = PASSWORD_SESSION
    throttle_classes = [AuthAccountThrottle]
    throttle_bucket = "password_change"
    serializer_class = PasswordChangeSerializer

    def post(self, request):
        data = validated(PasswordChangeSerializer, request.data)
        tokens = services.change_password(request.user, data["old_password"], data["new_password"])
        response = _session_response(request, tokens, {"success": True, "message": "Password changed"})
        if not cookies.wants_cookie(request):
            cookies.clear_refresh_cookie(response)  # the old cookie's session has ended
        return response


class PasswordResetView(GenericAPIView):
    """Email a reset token to the account with this address. Answers the same whether or not there is one."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AuthIPThrottle, AuthAccountThrottle]
    throttle_bucket = "password_reset"
    serializer_class = PasswordResetSerializer

    def post(self, request):
        data = validated(PasswordResetSerializer, request.data)
        services.request_password_reset(data["email"])
        message = "If an account with this email exists, a password reset email is on its way"
        return Response({"success": True, "message": message})


class PasswordResetConfirmView(GenericAPIView):
    """Set a new password with the emailed token (single use, time-limited); every session ends."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AuthIPThrottle]
    throttle_bucket = "password_reset_confirm"
    serializer_class = PasswordResetConfirmSerializer

    def post(self, request):
        data = validated(PasswordResetConfirmSerializer, request.data)
        services.reset_password(data["uid"], data["token"], data["new_password"])
        response = Response({"success": True, "message": "Password reset; log in with the new password"})
        cookies.clear_refresh_cookie(response)
        return response


class TwoFactorEnrollView(GenericAPIView):
    permission_classes = PASSWORD_SESSION
    throttle_classes = [AuthAccountThrottle]
    throttle_bucket = "2fa_enroll"

    @extend_schema(request=None)
    def post(self, request):
        return Response({"success": True, **enrolment_payload(services.enroll_2fa(request.user))})


class TwoFactorVerifyView(GenericAPIView):
    permission_classes = PASSWORD_SESSION
    throttle_classes = [AuthIPThrottle, AuthAccountThrottle]
    throttle_bucket = "2fa_verify"
    serializer_class = TotpCodeSerializer

    def post(self, request):
        data = validated(TotpCodeSerializer, request.data)
        codes = services.verify_2fa(request.user, data["totp_code"])
        # The only time these backup codes are shown (only their hashes are kept).
        return Response({"success": True, "message": "2FA enabled successfully", "backup_codes": codes})


class BackupCodesView(GenericAPIView):
    """Two-factor backup codes: how many are left (GET), or a new set (POST, with the password or a current TOTP code;
    the old codes stop working and the new ones are shown this once). Each code works once, instead of a TOTP code."""

    permission_classes = PASSWORD_SESSION
    throttle_classes = [AuthIPThrottle, AuthAccountThrottle]
    throttle_bucket = "2fa_backup_codes"
    serializer_class = BackupCodeRegenerateSerializer

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(responses=BackupCodesStatusSerializer)
    def get(self, request):
        status = selectors.backup_code_status(request.user)
        return Response({"success": True, **backup_codes_payload(status)})

    @extend_schema(request=BackupCodeRegenerateSerializer, responses=NewBackupCodesSerializer)
    def post(self, request):
        data = validated(BackupCodeRegenerateSerializer, request.data)
        codes = services.regenerate_backup_codes(request.user, data.get("password"), data.get("totp_code"))
        status = selectors.backup_code_status(request.user)
        return Response({"success": True, "backup_codes": codes, **backup_codes_payload(status)})


class MeView(GenericAPIView):
    permission_classes = PASSWORD_SESSION_FOR_CHANGES
    serializer_class = ProfileUpdateSerializer

    @extend_schema(responses=MeResponseSerializer)
    def get(self, request):
        return Response({"success": True, "user": user_payload(request.user)})

    @extend_schema(responses=MeResponseSerializer)
    def patch(self, request):
        changes = validated(ProfileUpdateSerializer, request.data)
        user = services.update_profile(request.user, changes)
        return Response({"success": True, "user": user_payload(user)})


class SystemModeView(GenericAPIView):
    permission_classes = PASSWORD_SESSION_FOR_CHANGES
    serializer_class = ModeSerializer

    def get(self, request):
        return Response({"success": True, **mode_payload(request.user.system_mode)})

    def post(self, request):
        data = validated(ModeSerializer, request.data)
        user = services.set_mode(request.user, data["mode"])
        return Response({"success": True, "mode": user.system_mode})


class ApiKeyListView(GenericAPIView):
    permission_classes = PASSWORD_SESSION_FOR_CHANGES
    serializer_class = ApiKeyCreateSerializer

    def get(self, request):
        return Response({"success": True, "api_keys": [api_key_payload(k) for k in selectors.api_keys(request.user)]})

    def post(self, request):
        data = validated(ApiKeyCreateSerializer, request.data)
        key, raw = services.create_api_key(
            request.user, data["name"], scopes=data.get("scopes"), expires_at=data.get("expires_at")
        )
        # The only time the raw key is ever shown.
        return Response({"success": True, "api_key": new_api_key_payload(key, raw)}, status=201)


class ApiKeyDetailView(GenericAPIView):
    permission_classes = PASSWORD_SESSION

    def delete(self, request, key_id):
        key = services.revoke_api_key(request.user, key_id)
        return Response({"success": True, "api_key": api_key_payload(key), "message": "API key revoked"})
