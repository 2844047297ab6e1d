"""Admin API: one bot of any user, as its owner sees it on its page (/bots/<id>): the bot with why it is (not) trading,
its round trips and its equity curve. For platform admins only (the explicit exception to tenant scoping, like
bots.admin_api); every read writes an AuditLog row. The portal's bot page falls back to these for an admin who opens
another user's bot from the admin console."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.admin_api import AdminView, audit
from amarktai.api import validated
from amarktai.errors import first_or_not_found
from bots.models import Bot
from bots.payloads import bot_detail_payload
from bots.selectors import bot_round_trips, equity_curve
from bots.serializers import PageSerializer


def admin_bot(actor, bot_id, what):
    """Any user's bot (404 if there is none), the read audited as ``bot.<what>``."""
    bot = first_or_not_found(Bot.objects.select_related("user").filter(pk=bot_id), "Bot not found")
    audit(actor, f"bot.{what}", "bot", bot.id, {"owner_id": str(bot.user_id)})
    return bot


class AdminBotDetailView(AdminView):
    def get(self, request, bot_id):
        bot = admin_bot(request.user, bot_id, "view")
        payload = {**bot_detail_payload(bot), "user_id": str(bot.user_id), "user_email": bot.user.email}
        return Response({"success": True, "bot": payload})


class AdminBotRoundTripsView(AdminView):
    @extend_schema(parameters=[PageSerializer])
    def get(self, request, bot_id):
        page = validated(PageSerializer, request.query_params)
        bot = admin_bot(request.user, bot_id, "round_trips")
        _bot, trips, total = bot_round_trips(bot.user_id, bot.pk, **page)
        return Response({"success": True, "bot_id": str(bot.pk), "round_trips": trips, "total": total})


class AdminBotEquityView(AdminView):
    def get(self, request, bot_id):
        bot = admin_bot(request.user, bot_id, "equity")
        return Response({"success": True, **equity_curve(bot.user_id, bot.pk)})
