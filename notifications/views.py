"""Notification endpoints (/api/notifications/...): channels, their test message and webhook secret, preferences,
the delivery log, Telegram link codes. Thin: a serializer validates, a service acts or a selector reads,
notifications.payloads shapes the answer."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.permissions import PASSWORD_SESSION, PASSWORD_SESSION_FOR_CHANGES
from amarktai.api import validated
from amarktai.errors import NotFound, ValidationFailed
from amarktai.utils import iso
from notifications import selectors
from notifications import serializers as s
from notifications.payloads import channel_payload, delivery_payload, preferences_payload
from notifications.services import channels, telegram


class ChannelListView(GenericAPIView):
    # Where notifications (trades, balances, sign-ins) go: an API key may list channels, never add or change them.
    permission_classes = PASSWORD_SESSION_FOR_CHANGES
    serializer_class = s.ChannelCreateSerializer

    def get(self, request):
        return Response({"success": True, "channels": [channel_payload(c) for c in selectors.channels(request.user)]})

    def post(self, request):
        data = validated(s.ChannelCreateSerializer, request.data)
        channel, secret = channels.create_channel(request.user, data["kind"], data["target"], data["name"])
        body = {"success": True, "channel": channel_payload(channel)}
        if secret:
            body["secret"] = secret  # shown this once
        return Response(body, status=201)


class ChannelDetailView(GenericAPIView):
    permission_classes = PASSWORD_SESSION_FOR_CHANGES
    serializer_class = s.ChannelUpdateSerializer

    def get(self, request, channel_id):
        channel = selectors.access_channel(request.user, channel_id)
        return Response({"success": True, "channel": channel_payload(channel)})

    def patch(self, request, channel_id):
        selectors.access_channel(request.user, channel_id)  # 404 before validating a foreign id's payload
        data = validated(s.ChannelUpdateSerializer, request.data)
        channel = channels.update_channel(request.user, channel_id, data)
        return Response({"success": True, "channel": channel_payload(channel)})

    def delete(self, request, channel_id):
        channels.delete_channel(request.user, channel_id)
        return Response({"success": True, "message": "Notification channel deleted"})


class ChannelTestView(GenericAPIView):
    @extend_schema(request=None)
    def post(self, request, channel_id):
        delivery = channels.send_test(request.user, channel_id)
        return Response({"success": True, "delivery": delivery_payload(delivery)}, status=202)


class ChannelSecretView(GenericAPIView):
    permission_classes = PASSWORD_SESSION

    @extend_schema(request=None)
    def post(self, request, channel_id):
        channel, secret = channels.rotate_secret(request.user, channel_id)
        return Response({"success": True, "channel": channel_payload(channel), "secret": secret})


class PreferencesView(GenericAPIView):
    serializer_class = s.PreferencesSerializer

    def get(self, request):
        user = request.user
        return Response(
            {"success": True, **preferences_payload(selectors.preferences(user), selectors.notification_settings(user))}
        )

    def patch(self, request):
        data = validated(s.PreferencesSerializer, request.data)
        channels.set_preferences(request.user, data.get("preferences"), data.get("timezone"), data.get("report_hour"))
        user = request.user
        return Response(
            {"success": True, **preferences_payload(selectors.preferences(user), selectors.notification_settings(user))}
        )


class DeliveryListView(GenericAPIView):
    @extend_schema(parameters=[s.DeliveryFilterSerializer])
    def get(self, request):
        filters = validated(s.DeliveryFilterSerializer, request.query_params)
        rows = selectors.deliveries(request.user, filters.get("status"), filters.get("channel_id"), filters["limit"])
        return Response({"success": True, "deliveries": [delivery_payload(d) for d in rows]})


class TelegramLinkView(GenericAPIView):
    # A linked chat can pause and stop the account's bots: only a password session may ask for a code.
    permission_classes = PASSWORD_SESSION

    @extend_schema(request=None)
    def post(self, request):
        link = telegram.new_link_code(request.user)
        username = link["bot_username"]
        return Response(
            {
                "success": True,
                "code": link["code"],
                "expires_at": iso(link["expires_at"]),
                "configured": link["configured"],
                "bot_username": username,
                "link_url": f"https://t.me/{username}?start={link['code']}" if username else "",
                "instructions": f"Send /start {link['code']} to "
                + (f"@{username}" if username else "the platform's Telegram bot")
                + " within 10 minutes.",
            }
        )


class TelegramWebhookView(GenericAPIView):
    """Where Telegram pushes the bot's updates when TELEGRAM_WEBHOOK_SECRET is set. Telegram's own endpoint, not part
    of the API (left out of the schema): the secret in the path and Telegram's X-Telegram-Bot-Api-Secret-Token header
    must both match, else 404 as if it did not exist."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(exclude=True)
    def post(self, request, secret):
        if not telegram.webhook_secret_ok(secret, request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")):
            raise NotFound()
        if not isinstance(request.data, dict):
            raise ValidationFailed("An update is a JSON object")
        telegram.receive_update(request.data)
        return Response({"ok": True})
