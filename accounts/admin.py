from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ApiKey, AuditLog, InviteCode, User
from amarktai.admin_base import ReadOnlyAdmin


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["-created_at"]
    list_display = ["email", "first_name", "is_admin", "two_factor_enabled", "system_mode", "is_active", "created_at"]
    list_filter = ["is_admin", "is_staff", "is_active", "two_factor_enabled", "system_mode"]
    search_fields = ["email", "first_name"]
    readonly_fields = ["created_at", "last_login", "two_factor_enabled"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["first_name", "currency", "system_mode", "two_factor_enabled"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_admin", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "created_at"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "first_name", "password1", "password2"]})]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "user__email", "key_prefix"]
    list_filter = ["revoked_at"]
    readonly_fields = ["key_prefix", "key_hash", "created_at", "last_used_at"]


@admin.register(InviteCode)
class InviteCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "created_by", "created_at", "used_by", "used_at"]
    search_fields = ["code", "used_by__email"]
    readonly_fields = ["used_by", "used_at"]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """Read-only: audit rows are written by the admin API and never edited."""

    list_display = ["created_at", "actor_email", "action", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_email", "target_id", "action"]
    readonly_fields = ["actor", "actor_email", "action", "target_type", "target_id", "details", "created_at"]
