"""Admin API for bots (contract: Admin Endpoints): every user's bots, for platform admins only. The one explicit
exception to tenant scoping; every call writes an AuditLog row through accounts.admin_api.audit."""

import uuid

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.admin_api import AdminView, audit
from amarktai.errors import first_or_not_found
from bots.models import Bot, BotStatus
from bots.payloads import admin_bot_payload
from bots.services import set_status

# ------------------------------------------------------------------ services


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
            set_status(bot, BotStatus.PAUSED, reason=message)
        elif bot.paused_by:  # paused by the owner's kill switch, now by an admin: starting trading must not resume it
            bot.paused_by = ""
            bot.save(update_fields=["paused_by", "updated_at"])
        audit(
            actor,
            "bot.pause",
            "bot",
            bot.id,
            {"owner_id": str(bot.user_id), "previous_status": previous, "reason": reason},
        )
    return bot


# ------------------------------------------------------------------ views


class AdminBotsQuery(serializers.Serializer):
    user_id = serializers.UUIDField(required=False)


class AdminPauseSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


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
