"""Thin views over accounts.services and accounts.selectors: auth, sessions, passwords, 2FA, API keys, system mode.
Responses are shaped by accounts.payloads. What could take an account over needs a password session
(accounts.permissions.PASSWORD_SESSION): an API key cannot do it."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import selectors, services
from accounts.payloads import api_key_payload, enrolment_payload, mode_payload, new_api_key_payload, user_payload
from accounts.permissions import PASSWORD_SESSION, PASSWORD_SESSION_FOR_CHANGES
from accounts.serializers import (
    ApiKeyCreateSerializer,
    LoginSerializer,
    MeResponseSerializer,
    ModeSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TotpCodeSerializer,
)
from accounts.throttles import AuthAccountThrottle, AuthIPThrottle, RegisterIPThrottle
from amarktai.api import validated


class RegisterView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [RegisterIPThrottle]
    serializer_class = RegisterSerializer

    def post(self, request):
        data = validated(RegisterSerializer, request.data)
        user = services.register(data["email"], data["password"], data.get("first_name", ""), data.get("invite_code"))
        tokens = services.issue_tokens(user)
        return Response({**tokens, "user": user_payload(user)})


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
        return Response({**tokens, "user": user_payload(user)})


class RefreshView(GenericAPIView):
    """A new access token and a new refresh token; the refresh token sent is spent (rotation with a blacklist)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AuthIPThrottle]
    throttle_bucket = "refresh"
    serializer_class = RefreshSerializer

    def post(self, request):
        data = validated(RefreshSerializer, request.data)
        tokens = services.refresh_session(data["refresh"])
        return Response({**tokens, "access": tokens["token"]})


class LogoutView(GenericAPIView):
    """End this session: the refresh token is blacklisted and the session's access tokens are refused."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AuthIPThrottle]
    throttle_bucket = "logout"
    serializer_class = RefreshSerializer

    def post(self, request):
        data = validated(RefreshSerializer, request.data)
        services.logout(data["refresh"])
        return Response({"success": True, "message": "Logged out"})


class LogoutEverywhereView(GenericAPIView):
    """End every session of the user (this one too) and close the user's sockets. Password session only."""

    permission_classes = PASSWORD_SESSION

    @extend_schema(request=None)
    def post(self, request):
        services.revoke_sessions(request.user)
        return Response({"success": True, "message": "Logged out everywhere"})


class PasswordChangeView(GenericAPIView):
    """Change the password (the current one is required); every other session ends, this one gets new tokens."""

    permission_classes = PASSWORD_SESSION
    throttle_classes = [AuthAccountThrottle]
    throttle_bucket = "password_change"
    serializer_class = PasswordChangeSerializer

    def post(self, request):
        data = validated(PasswordChangeSerializer, request.data)
        tokens = services.change_password(request.user, data["old_password"], data["new_password"])
        return Response({"success": True, "message": "Password changed", **tokens})


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
        return Response({"success": True, "message": "Password reset; log in with the new password"})


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
        services.verify_2fa(request.user, data["totp_code"])
        return Response({"success": True, "message": "2FA enabled successfully"})


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
