from rest_framework import serializers

from accounts.models import ApiKey, SystemMode
from amarktai.utils import iso


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    invite_code = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)


class LoginSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    totp_code = serializers.CharField(max_length=10, required=False, allow_blank=True, allow_null=True)


class TotpCodeSerializer(serializers.Serializer):
    totp_code = serializers.RegexField(r"^\s*\d{6,8}\s*$", max_length=10)


class ModeSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=SystemMode.values)


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


def user_payload(user, full=True):
    data = {"id": str(user.id), "email": user.email, "first_name": user.first_name}
    if full:
        data.update(
            currency=user.currency,
            system_mode=user.system_mode,
            two_factor_enabled=user.two_factor_enabled,
            is_admin=user.is_admin,
            created_at=iso(user.created_at),
        )
    return data


def api_key_payload(key: ApiKey):
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.key_prefix,
        "active": key.is_active,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
    }
