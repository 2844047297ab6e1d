"""Admin API (contract: Admin Endpoints): every user's account, for platform admins (User.is_admin) only. Apps above
accounts add their own admin routes on the same base (bots.admin_api).

The one explicit exception to tenant scoping. Anonymous callers get 401, other users 403 PERMISSION_DENIED. Every call
writes an AuditLog row (actor, action, target, details).
"""

from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from accounts.models import AuditLog
from accounts.payloads import admin_user_payload
from accounts.permissions import KeyScope
from accounts.selectors import all_users
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


def list_users(actor):
    users = all_users()
    audit(actor, "users.list", "user", details={"count": len(users)})
    return users


# ------------------------------------------------------------------ views


class IsPlatformAdmin(BasePermission):
    def has_permission(self, request, view):
        if not request.user.is_admin:  # IsAuthenticated ran first: request.user is a User
            raise PermissionDenied("Admin access required")
        return True


class AdminView(GenericAPIView):
    permission_classes = [IsAuthenticated, KeyScope, IsPlatformAdmin]  # an admin's API key: read lists, trade pauses


class AdminUsersView(AdminView):
    def get(self, request):
        return Response({"success": True, "users": [admin_user_payload(u) for u in list_users(request.user)]})
