from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from accounts.permissions import READ_ONLY_QUERY
from amarktai.api import validated
from amarktai.errors import PayloadTooLarge
from bots import selectors, services, supertrend_exit, webhooks
from bots.exits import exits_payload
from bots.payloads import bot_detail_payload, bot_payload, signal_payload, webhook_event_payload
from bots.serializers import (
    BotCreateSerializer,
    BotFilterSerializer,
    BotHistoryResponse,
    BotUpdateSerializer,
    ExitPlanSerializer,
    MetricsResponseSerializer,
    PageSerializer,
    PositionCloseResponse,
    PositionExitsResponse,
    SignalFilterSerializer,
    StrategyListResponse,
    SupertrendExitResponse,
    SupertrendExitSerializer,
    WebhookAlertSerializer,
    WebhookHistoryResponse,
    WebhookReceivedResponse,
    WebhookRotateResponse,
    exit_plan_from,
)
from bots.strategies import STRATEGIES
from bots.strategies.params import describe
from trading.payloads import order_payload, position_payload


class BotListView(GenericAPIView):
    serializer_class = BotCreateSerializer

    def get(self, request):
        # Most calls carry no filter: skip building a serializer for nothing (this is the hottest read).
        filters = validated(BotFilterSerializer, request.query_params) if request.query_params else {}
        items = selectors.bot_list_encoded(request.user)  # its JSON bytes come with it (amarktai.renderers.Encoded)
        if filters.get("platform"):
            items = [b for b in items if b["exchange"] == filters["platform"].lower()]
        if filters.get("status"):
            items = [b for b in items if b["status"] == filters["status"]]
        return Response({"success": True, "bots": items, "total": len(items)})

    def post(self, request):
        data = validated(BotCreateSerializer, request.data)
        bot = services.create_bot(request.user, **data)
        body = {"id": str(bot.id), "name": bot.name, "status": bot.status}
        return Response({"success": True, "bot": body, **_webhook_url(request, bot)}, status=201)


class BotDetailView(GenericAPIView):
    serializer_class = BotUpdateSerializer

    def get(self, request, bot_id):
        bot = selectors.access_bot(request.user, bot_id)
        return Response(
            {"success": True, "bot": {**bot_detail_payload(bot), **selectors.bot_exits_and_protections(bot)}}
        )

    def patch(self, request, bot_id):
        changes = validated(BotUpdateSerializer, request.data)
        bot = services.update_bot(request.user, bot_id, changes)
        return Response({"success": True, "bot": bot_payload(bot), **_webhook_url(request, bot)})

    def delete(self, request, bot_id):
        services.delete_bot(request.user, bot_id)
        return Response({"success": True, "message": "Bot deleted successfully"})


class BotPauseView(GenericAPIView):
    def post(self, request, bot_id):
        bot = services.pause_bot(request.user, bot_id)
        return Response({"success": True, "bot_id": str(bot.id), "status": bot.status})


class BotResumeView(GenericAPIView):
    def post(self, request, bot_id):
        bot = services.resume_bot(request.user, bot_id)
        return Response({"success": True, "bot_id": str(bot.id), "status": bot.status})


class BotRoundTripsView(GenericAPIView):
    @extend_schema(parameters=[PageSerializer])
    def get(self, request, bot_id):
        page = validated(PageSerializer, request.query_params)
        bot, trips, total = selectors.bot_round_trips(request.user, bot_id, **page)
        return Response({"success": True, "bot_id": str(bot.pk), "round_trips": trips, "total": total})


class BotEquityView(GenericAPIView):
    def get(self, request, bot_id):
        return Response({"success": True, **selectors.equity_curve(request.user, bot_id)})


class MetricsView(GenericAPIView):
    @extend_schema(responses=MetricsResponseSerializer)
    def get(self, request):
        return Response({"success": True, "metrics": selectors.metrics(request.user)})


def _signals_response(user, filters):
    after = filters.pop("cursor", None)
    rows, last = selectors.signals_page(user, after=after, **filters)
    return Response(
        {
            "success": True,
            "signals": [signal_payload(row) for row in rows],
            "count": len(rows),
            "next_cursor": selectors.encode_signal_cursor(last) if last is not None else None,
        }
    )


class SignalListView(GenericAPIView):
    """The user's strategy signals, newest first, a page at a time (``next_cursor`` continues the list)."""

    @extend_schema(parameters=[SignalFilterSerializer])
    def get(self, request):
        return _signals_response(request.user, dict(validated(SignalFilterSerializer, request.query_params)))


class SignalFilterView(GenericAPIView):
    """The same list with the filters in a JSON body. It only reads: an API key's ``read`` scope suffices."""

    serializer_class = SignalFilterSerializer
    permission_classes = READ_ONLY_QUERY

    def post(self, request):
        return _signals_response(request.user, dict(validated(SignalFilterSerializer, request.data)))


class SignalDetailView(GenericAPIView):
    def get(self, request, signal_id):
        return Response({"success": True, "signal": signal_payload(selectors.access_signal(request.user, signal_id))})


def _closed(order, position):
    return Response({"success": True, "order": order_payload(order), "position": position_payload(position)})


class PositionCloseView(GenericAPIView):
    """Close one open position at market ("force exit"); a bot's position books the bot's P&L like a strategy exit."""

    @extend_schema(request=None, responses=PositionCloseResponse, parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def post(self, request, position_id):
        return _closed(*services.close_position_by_id(request.user, position_id))


class BotExitView(GenericAPIView):
    """Close the bot's open position at market ("force exit"); the bot keeps its status."""

    @extend_schema(request=None, responses=PositionCloseResponse, parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def post(self, request, bot_id):
        return _closed(*services.exit_bot(request.user, bot_id))


def _webhook_url(request, bot):
    """{"webhook_url"} when the service just issued the bot's webhook token (the only time it is shown), else {}."""
    token = getattr(bot, "webhook_token", None)
    return {"webhook_url": request.build_absolute_uri(f"/api/webhooks/{token}")} if token else {}


class StrategyListView(GenericAPIView):
    """Every strategy a bot can run, with its parameters as JSON Schema and their defaults: clients build the
    create-bot form from it."""

    @extend_schema(responses=StrategyListResponse)
    def get(self, request):
        return Response({"success": True, "strategies": [describe(cls) for cls in STRATEGIES.values()]})


class WebhookReceiveView(GenericAPIView):
    """A signal bot's webhook: a TradingView alert or a ChartInk scan payload, sent to the bot's secret URL. No login:
    the token in the path is the credential. 404 unknown token, 429 the bot's rate limit, 400 a body that is not an
    alert for this bot, 409 a replay of an alert already received; every alert that reaches the bot is in its history
    (GET /api/bots/{id}/webhooks) with what became of it."""

    permission_classes = [AllowAny]
    authentication_classes = []
    parser_classes = []  # the raw body is read here (TradingView may send JSON as text/plain)

    @extend_schema(
        request={"application/json": WebhookAlertSerializer, "text/plain": WebhookAlertSerializer},
        responses=WebhookReceivedResponse,
        auth=[],
    )
    def post(self, request, token):
        limit = settings.API_MAX_BODY_BYTES
        stream = request.stream
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body too large (at most {limit} bytes)")
        received = webhooks.receive(token, raw)
        if received.error is not None:
            received.error.details = {**(received.error.details or {}), "webhook_id": [str(received.event.id)]}
            raise received.error
        return Response({"success": True, "webhook": webhook_event_payload(received.event)})


class BotWebhookHistoryView(GenericAPIView):
    """The alerts a signal bot received, newest first, with their outcome and reason."""

    @extend_schema(parameters=[PageSerializer], responses=WebhookHistoryResponse)
    def get(self, request, bot_id):
        page = validated(PageSerializer, request.query_params)
        bot, rows, total = selectors.webhook_events(request.user, bot_id, **page)
        return Response(
            {
                "success": True,
                "bot_id": str(bot.pk),
                "webhooks": [webhook_event_payload(e) for e in rows],
                "total": total,
            }
        )


class BotWebhookRotateView(GenericAPIView):
    """A new secret webhook URL for a signal bot, shown this once; the old URL stops working at once."""

    @extend_schema(request=None, responses=WebhookRotateResponse)
    def post(self, request, bot_id):
        bot, token = webhooks.rotate_token(request.user, bot_id)
        url = request.build_absolute_uri(f"/api/webhooks/{token}")
        return Response({"success": True, "bot_id": str(bot.pk), "webhook_url": url})


class PositionExitsView(GenericAPIView):
    """A bot position's exit plan (take-profit steps, trailing take profit, trailing stop, breakeven, time stop) and
    its live state; PUT replaces the plan. The engine runs it on every tick (engine-side). (No serializer_class: an
    OPTIONS on PUT would look the object up without the tenancy selector; the schema names the body below.)"""

    @extend_schema(responses=PositionExitsResponse)
    def get(self, request, position_id):
        return Response({"success": True, "exits": selectors.position_exits(request.user, position_id)})

    @extend_schema(request=ExitPlanSerializer, responses=PositionExitsResponse, parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def put(self, request, position_id):
        plan = exit_plan_from(validated(ExitPlanSerializer, request.data))
        position, exit_plan = services.set_exits(request.user, position_id, plan)
        return Response({"success": True, "exits": exits_payload(position, exit_plan)})


class PositionSupertrendExitView(GenericAPIView):
    """A position's Supertrend trailing exit (any account's position, a bot's or your own): PUT sets or changes it
    (period, multiplier, timeframe), DELETE removes it. The service sells the position at market when the trend flips
    from up to down on a new closed candle (engine-side). (No serializer_class: see PositionExitsView.)"""

    @extend_schema(responses=SupertrendExitResponse)
    def get(self, request, position_id):
        position, row = supertrend_exit.supertrend_exit_of(request.user, position_id)
        return Response({"success": True, "supertrend_exit": supertrend_exit.payload(position, row)})

    @extend_schema(
        request=SupertrendExitSerializer, responses=SupertrendExitResponse, parameters=[IDEMPOTENCY_KEY_PARAMETER]
    )
    @idempotent
    def put(self, request, position_id):
        supertrend_exit.supertrend_exit_of(request.user, position_id)  # another user's position: 404 before any 400
        data = validated(SupertrendExitSerializer, request.data)
        position, row = supertrend_exit.set_supertrend_exit(request.user, position_id, **data)
        return Response({"success": True, "supertrend_exit": supertrend_exit.payload(position, row)})

    @extend_schema(request=None, responses=SupertrendExitResponse, parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def delete(self, request, position_id):
        supertrend_exit.clear_supertrend_exit(request.user, position_id)
        return Response({"success": True, "supertrend_exit": None})


class BotHistoryView(GenericAPIView):
    """The bot's history: exits that fired (which, engine-side), protections that blocked entries, exit-plan edits."""

    @extend_schema(parameters=[PageSerializer], responses=BotHistoryResponse)
    def get(self, request, bot_id):
        page = validated(PageSerializer, request.query_params)
        bot, rows, total = selectors.bot_history(request.user, bot_id, **page)
        return Response({"success": True, "bot_id": str(bot.pk), "events": rows, "total": total})
