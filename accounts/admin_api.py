"""Admin API (contract: Admin Endpoints): every user's account, for platform admins (User.is_admin) only. Apps above
accounts add their own admin routes on the same base (bots.admin_api).

The one explicit exception to tenant scoping. Anonymous callers get 401, other users 403 PERMISSION_DENIED. Every call
writes an AuditLog row (actor, action, target, details).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from accounts.models import AuditLog
from accounts.payloads import admin_user_payload
from accounts.permissions import KeyScope
from accounts.selectors import all_users
from amarktai import keyset
from amarktai.api import StrictIntegerField, validated
from amarktai.errors import PermissionDenied

# ------------------------------------------------------------------ services


def audit(actor, action, target_type="", target_id="", details=None):
    return AuditLog.objects.create(
        actor=actor,
        actor_email=actor.email,
        action=action,
        target_type=target_type,
        target_id=str(target_id or ""),
        details=details or {},
    )


def list_users(actor, limit=None, cursor=None):
    users, next_cursor = all_users(limit=limit, cursor=cursor)
    audit(actor, "users.list", "user", details={"count": len(users)})
    return users, next_cursor


# ------------------------------------------------------------------ views


class IsPlatformAdmin(BasePermission):
    def has_permission(self, request, view):
        if not request.user.is_admin:  # IsAuthenticated ran first: request.user is a User
            raise PermissionDenied("Admin access required")
        return True


class AdminView(GenericAPIView):
    permission_classes = [IsAuthenticated, KeyScope, IsPlatformAdmin]  # an admin's API key: read lists, trade pauses


class AdminPageQuery(serializers.Serializer):
    """Paging of the admin lists: without ``limit`` the whole list (as the contract has it); with it, one page at a
    time, each continued by the previous page's ``next_cursor`` (a range scan of an index however deep)."""

    limit = StrictIntegerField(min_value=1, max_value=1000, required=False, help_text="Page size (default: all)")
    cursor = serializers.CharField(required=False, max_length=200, help_text="The previous page's next_cursor")

    def validate(self, attrs):
        if attrs.get("cursor"):
            try:
                attrs["cursor"] = keyset.decode(attrs["cursor"])
            except ValueError:
                raise serializers.ValidationError({"cursor": ["not a cursor from this list"]}) from None
        return attrs


class AdminUsersView(AdminView):
    serializer_class = AdminPageQuery

    @extend_schema(parameters=[AdminPageQuery])
    def get(self, request):
        query = validated(AdminPageQuery, request.query_params)
        users, next_cursor = list_users(request.user, query.get("limit"), query.get("cursor"))
        body = {"success": True, "users": [admin_user_payload(u) for u in users]}
        if "limit" in query:  # paged: where the next page starts (null on the last)
            body["next_cursor"] = next_cursor
        return Response(body)
