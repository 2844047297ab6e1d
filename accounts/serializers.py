"""Input validation for the accounts endpoints (responses are shaped by accounts.payloads)."""

from rest_framework import serializers

from accounts.models import BASE_CURRENCIES, ApiKeyScope, SystemMode
from amarktai.api import StrictIntegerField


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    invite_code = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)


class LoginSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    totp_code = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The authenticator's 6-digit code, or one of the account's backup codes (each works once).",
    )


class TotpCodeSerializer(serializers.Serializer):
    totp_code = serializers.RegexField(r"^\s*[0-9]{6,8}\s*$", max_length=10)


class ProfileUpdateSerializer(serializers.Serializer):
    currency = serializers.ChoiceField(
        choices=BASE_CURRENCIES,
        required=False,
        help_text="Base currency: every total (metrics, overview, wallet, P&L, assistant) is converted into it.",
    )


class ModeSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=SystemMode.values)


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKeyScope.values),
        required=False,
        allow_empty=False,
        max_length=len(ApiKeyScope.values),
        help_text="What the key may do: read (GET and the event feeds), trade (changes; implies read). Default: read.",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When the key stops working (in the future); omitted: never."
    )


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class CookieRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(
        max_length=4096,
        required=False,
        help_text="The refresh token. Omitted: the amk_refresh cookie is used, with the X-CSRFToken header required.",
    )


class BackupCodeRegenerateSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, required=False, write_only=True, trim_whitespace=False)
    totp_code = serializers.RegexField(r"^\s*[0-9]{6,8}\s*$", max_length=10, required=False)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class UserSerializer(serializers.Serializer):
    """The user as GET/PATCH /api/auth/me answer it (accounts.payloads.user_payload)."""

    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    currency = serializers.CharField(help_text="The base currency of every total.")
    system_mode = serializers.CharField(help_text="testing, live_trading or autopilot")
    two_factor_enabled = serializers.BooleanField()
    is_admin = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class MeResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    user = UserSerializer()


class BackupCodesStatusSerializer(serializers.Serializer):
    """Response of GET /api/auth/2fa/backup-codes (and part of the POST's): counts only, never the codes."""

    success = serializers.BooleanField()
    remaining = StrictIntegerField(help_text="Unused backup codes.")
    total = StrictIntegerField(help_text="Codes in the current set (0: none made yet).")
    generated_at = serializers.DateTimeField(allow_null=True)


class NewBackupCodesSerializer(BackupCodesStatusSerializer):
    """Response of POST /api/auth/2fa/backup-codes: the new codes, shown this once."""

    backup_codes = serializers.ListField(child=serializers.CharField(), help_text="Each works once; only hashes kept.")
