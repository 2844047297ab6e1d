"""Admin API (contract: Admin Endpoints): every user's accounts and bots, for platform admins (User.is_admin) only.

The one explicit exception to tenant scoping. Anonymous callers get 401, other users 403 PERMISSION_DENIED. Every call
writes an AuditLog row (actor, action, target, details).
"""

import uuid

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from accounts.models import AuditLog, User
from amarktai.errors import PermissionDenied, first_or_not_found
from amarktai.utils import iso
from bots import services as bot_services
from bots.models import Bot, BotStatus

# ------------------------------------------------------------------ services


def audit(actor, action, target_type="", target_id="", details=None):
    return AuditLog.objects.create(actor=actor, actor_email=getattr(actor, "email", ""), action=action,
                                   target_type=target_type, target_id=str(target_id or ""), details=details or {})


def user_payload(user):
    return {"id": str(user.id), "email": user.email, "first_name": user.first_name, "is_admin": user.is_admin,
            "created_at": iso(user.created_at)}


def admin_bot_payload(bot):
    return {**bot_services.bot_payload(bot), "user_id": str(bot.user_id), "user_email": bot.user.email}


def list_users(actor):
    users = list(User.objects.order_by("created_at"))
    audit(actor, "users.list", "user", details={"count": len(users)})
    return users


def list_bots(actor, user_id=None):
    queryset = Bot.objects.select_related("user").order_by("-created_at")
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    bots = list(queryset)
    audit(actor, "bots.list", "bot", details={"count": len(bots), "user_id": str(user_id) if user_id else None})
    return bots


def pause_bot(actor, bot_id, reason=""):
    """Pause any user's bot; tells the owner (bot_update + alert) and records who did it."""
    with transaction.atomic():
        bot = first_or_not_found(Bot.objects.select_for_update().filter(pk=bot_id), "Bot not found")
        previous = bot.status
        if previous != BotStatus.PAUSED:
            message = f"Bot {bot.name} was paused by an administrator" + (f": {reason}" if reason else "")
            bot_services.set_status(bot, BotStatus.PAUSED, reason=message)
        audit(actor, "bot.pause", "bot", bot.id,
              {"owner_id": str(bot.user_id), "previous_status": previous, "reason": reason})
    return bot


# ------------------------------------------------------------------ views


class IsPlatformAdmin(BasePermission):
    def has_permission(self, request, view):
        if not getattr(request.user, "is_admin", False):
            raise PermissionDenied("Admin access required")
        return True


class AdminView(GenericAPIView):
    permission_classes = [IsAuthenticated, IsPlatformAdmin]


class AdminBotsQuery(serializers.Serializer):
    user_id = serializers.UUIDField(required=False)


class AdminPauseSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class AdminUsersView(AdminView):
    def get(self, request):
        return Response({"success": True, "users": [user_payload(u) for u in list_users(request.user)]})


class AdminBotsView(AdminView):
    serializer_class = AdminBotsQuery

    @extend_schema(parameters=[OpenApiParameter("user_id", uuid.UUID, description="Only this user's bots")])
    def get(self, request):
        query = AdminBotsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        bots = list_bots(request.user, query.validated_data.get("user_id"))
        return Response({"success": True, "bots": [admin_bot_payload(b) for b in bots], "total": len(bots)})


class AdminBotPauseView(AdminView):
    serializer_class = AdminPauseSerializer

    def post(self, request, bot_id):
        body = AdminPauseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bot = pause_bot(request.user, bot_id, body.validated_data.get("reason", ""))
        return Response({"success": True, "bot_id": str(bot.id), "status": bot.status})
