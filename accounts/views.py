"""Thin views over accounts.services and accounts.selectors: auth, 2FA, API keys, system mode. Responses are shaped by
accounts.payloads."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenRefreshView

from accounts import selectors, services
from accounts.payloads import api_key_payload, enrolment_payload, mode_payload, new_api_key_payload, user_payload
from accounts.serializers import (
    ApiKeyCreateSerializer,
    LoginSerializer,
    ModeSerializer,
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


class RefreshView(TokenRefreshView):
    authentication_classes = []
    throttle_classes = [AuthIPThrottle]
    throttle_bucket = "refresh"

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        data = dict(response.data)
        if "access" in data:
            data["token"] = data["access"]
        return Response(data, status=response.status_code)


class TwoFactorEnrollView(GenericAPIView):
    throttle_classes = [AuthAccountThrottle]
    throttle_bucket = "2fa_enroll"

    @extend_schema(request=None)
    def post(self, request):
        return Response({"success": True, **enrolment_payload(services.enroll_2fa(request.user))})


class TwoFactorVerifyView(GenericAPIView):
    throttle_classes = [AuthIPThrottle, AuthAccountThrottle]
    throttle_bucket = "2fa_verify"
    serializer_class = TotpCodeSerializer

    def post(self, request):
        data = validated(TotpCodeSerializer, request.data)
        services.verify_2fa(request.user, data["totp_code"])
        return Response({"success": True, "message": "2FA enabled successfully"})


class MeView(GenericAPIView):
    def get(self, request):
        return Response({"success": True, "user": user_payload(request.user)})


class SystemModeView(GenericAPIView):
    serializer_class = ModeSerializer

    def get(self, request):
        return Response({"success": True, **mode_payload(request.user.system_mode)})

    def post(self, request):
        data = validated(ModeSerializer, request.data)
        user = services.set_mode(request.user, data["mode"])
        return Response({"success": True, "mode": user.system_mode})


class ApiKeyListView(GenericAPIView):
    serializer_class = ApiKeyCreateSerializer

    def get(self, request):
        return Response({"success": True, "api_keys": [api_key_payload(k) for k in selectors.api_keys(request.user)]})

    def post(self, request):
        data = validated(ApiKeyCreateSerializer, request.data)
        key, raw = services.create_api_key(request.user, data["name"])
        # The only time the raw key is ever shown.
        return Response({"success": True, "api_key": new_api_key_payload(key, raw)}, status=201)


class ApiKeyDetailView(GenericAPIView):
    def delete(self, request, key_id):
        key = services.revoke_api_key(request.user, key_id)
        return Response({"success": True, "api_key": api_key_payload(key), "message": "API key revoked"})
