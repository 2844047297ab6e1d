"""Admin API for bots (contract: Admin Endpoints): every user's bots, for platform admins only. The one explicit
exception to tenant scoping; every call writes an AuditLog row through accounts.admin_api.audit."""

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.admin_api import AdminPageQuery, AdminView, audit
from amarktai import cache, keyset
from amarktai.api import validated
from amarktai.errors import first_or_not_found
from bots.models import Bot, BotStatus
from bots.payloads import admin_bot_payload, lock_holder
from bots.services import publish_bot, set_status
from realtime import events

# ------------------------------------------------------------------ services


TOTAL_KEY, TOTAL_TTL = "admin:bots:total", 10


def list_bots(actor, user_id=None, limit=None, cursor=None):
    """Every user's bots (or one user's), newest first: (bots, how many in all, next cursor). Without ``limit`` all of
    them; with it one page of the (created_at, id) index after ``cursor``."""
    queryset = Bot.objects.select_related("user").order_by("-created_at", "-id")
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    total = None
    if limit is None:
        bots, next_cursor = list(keyset.after(queryset, cursor) if cursor else queryset), None
        total = len(bots) if cursor is None else None
    else:
        bots, next_cursor = keyset.page(keyset.after(queryset, cursor) if cursor else queryset, limit)
    if total is None and user_id is None:
        # Every user's bots: COUNT(*) walks a whole index (~10 ms at 100,000 bots), so paged requests share one count
        # for TOTAL_TTL seconds.
        total = cache.get(TOTAL_KEY)
        if total is None:
            total = queryset.count()
            cache.set(TOTAL_KEY, total, TOTAL_TTL)
    if total is None:
        total = queryset.count()
    audit(actor, "bots.list", "bot", details={"count": len(bots), "user_id": str(user_id) if user_id else None})
    return bots, total, next_cursor


def pause_bot(actor, bot_id, reason=""):
    """Pause any user's bot and lock it: its owner cannot resume it until an admin releases it (``unlock_bot``); the
    engine does not tick it. Tells the owner (bot_update + alert: who, by display name, and why) and records who did
    it. Pausing a bot already locked updates the reason."""
    with transaction.atomic():
        bot = first_or_not_found(Bot.objects.select_for_update().filter(pk=bot_id), "Bot not found")
        previous = bot.status
        reason = (reason or "").strip()[:200]
        changed = not bot.paused_by_admin or bot.pause_reason != reason
        if changed:
            bot.paused_by_admin = True
            bot.paused_by = actor
            bot.pause_reason = reason
            bot.paused_at = timezone.now()
            bot.save(update_fields=["paused_by_admin", "paused_by", "pause_reason", "paused_at", "updated_at"])
        message = f"Bot {bot.name} was paused by {lock_holder(bot)}" + (f": {reason}" if reason else "")
        message += ". Only an administrator can resume it."
        if previous != BotStatus.PAUSED:
            set_status(bot, BotStatus.PAUSED, reason=message)
        elif changed:  # paused already (by its owner, or locked with another reason): the lock is news
            publish_bot(bot)
            events.publish(bot.user_id, events.ALERT, {"level": "warning", "message": message, "bot_id": str(bot.id)})
        if (
            bot.pause_origin
        ):  # paused by the owner's kill switch, now locked by an admin: starting trading must not resume it
            bot.pause_origin = ""
            bot.save(update_fields=["pause_origin", "updated_at"])
        audit(
            actor,
            "bot.pause",
            "bot",
            bot.id,
            {"owner_id": str(bot.user_id), "previous_status": previous, "reason": reason},
        )
    return bot


def unlock_bot(actor, bot_id, resume=False):
    """Release an admin lock: the bot stays paused and its owner may resume it again, or, with ``resume``, it is
    resumed at once. Tells the owner. Releasing a bot that is not locked changes nothing (and is audited as such)."""
    with transaction.atomic():
        bot = first_or_not_found(Bot.objects.select_for_update().filter(pk=bot_id), "Bot not found")
        was_locked = bot.paused_by_admin
        bot.paused_by_admin = False
        bot.paused_by = None
        bot.pause_reason = ""
        bot.paused_at = None
        bot.save(update_fields=["paused_by_admin", "paused_by", "pause_reason", "paused_at", "updated_at"])
        if resume and bot.status != BotStatus.ACTIVE:
            set_status(bot, BotStatus.ACTIVE, reason=f"Bot {bot.name} was released and resumed by an administrator.")
        elif was_locked:
            publish_bot(bot)
            events.publish(
                bot.user_id,
                events.ALERT,
                {
                    "level": "info",
                    "message": f"Bot {bot.name} was released by an administrator: you can resume it.",
                    "bot_id": str(bot.id),
                },
            )
        audit(
            actor,
            "bot.unlock",
            "bot",
            bot.id,
            {"owner_id": str(bot.user_id), "was_locked": was_locked, "resumed": bool(resume), "status": bot.status},
        )
    return bot


# ------------------------------------------------------------------ views


class AdminBotsQuery(AdminPageQuery):
    """``total`` counts every match; paged through every user's bots it may be up to 10 s old."""

    user_id = serializers.UUIDField(required=False, help_text="Only this user's bots")


class AdminPauseSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Shown to the bot's owner with the lock"
    )


class AdminUnlockSerializer(serializers.Serializer):
    resume = serializers.BooleanField(
        required=False, default=False, help_text="Also resume the bot (else it stays paused for its owner to resume)"
    )


class AdminBotStatusSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    bot_id = serializers.UUIDField()
    status = serializers.CharField()
    admin_locked = serializers.BooleanField()


class AdminBotsView(AdminView):
    serializer_class = AdminBotsQuery

    @extend_schema(parameters=[AdminBotsQuery])
    def get(self, request):
        query = validated(AdminBotsQuery, request.query_params)
        bots, total, next_cursor = list_bots(
            request.user, query.get("user_id"), query.get("limit"), query.get("cursor")
        )
        body = {"success": True, "bots": [admin_bot_payload(b) for b in bots], "total": total}
        if "limit" in query:  # paged: where the next page starts (null on the last)
            body["next_cursor"] = next_cursor
        return Response(body)


def _status(bot):
    return {"success": True, "bot_id": str(bot.id), "status": bot.status, "admin_locked": bot.paused_by_admin}


class AdminBotPauseView(AdminView):
    serializer_class = AdminPauseSerializer

    @extend_schema(responses=AdminBotStatusSerializer)
    def post(self, request, bot_id):
        body = AdminPauseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bot = pause_bot(request.user, bot_id, body.validated_data.get("reason", ""))
        return Response(_status(bot))


class AdminBotUnlockView(AdminView):
    """Release an admin lock (optionally resuming the bot)."""

    serializer_class = AdminUnlockSerializer

    @extend_schema(responses=AdminBotStatusSerializer)
    def post(self, request, bot_id):
        body = AdminUnlockSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bot = unlock_bot(request.user, bot_id, body.validated_data.get("resume", False))
        return Response(_status(bot))
