"""Thin views over chat.services and chat.selectors (contract: AI Chat); chat.payloads shapes the responses."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from amarktai.api import validated
from amarktai.utils import iso_now
from chat import selectors, services
from chat.payloads import command_payload, message_payload
from chat.serializers import (
    ChatRequestSerializer,
    CommandConfirmResponseSerializer,
    CommandConfirmSerializer,
    CommandHistoryQuerySerializer,
    CommandHistoryResponseSerializer,
    CommandRequestSerializer,
    CommandResponseSerializer,
    HistoryQuerySerializer,
    MessageSerializer,
)


class AiChatView(GenericAPIView):
    serializer_class = ChatRequestSerializer

    def post(self, request):
        data = validated(ChatRequestSerializer, request.data)
        if data.get("confirm"):
            reply = services.confirm_action(request.user, data["confirm"])
        else:
            reply = services.handle_message(request.user, data["message"])
        return Response({"success": True, **reply})


class ChatMessageView(GenericAPIView):
    serializer_class = MessageSerializer

    def post(self, request):
        data = validated(MessageSerializer, request.data)
        reply = services.handle_message(request.user, data["message"], confirmable=False)
        return Response({"success": True, "response": reply["response"], "timestamp": iso_now()})


class ChatHistoryView(GenericAPIView):
    serializer_class = HistoryQuerySerializer

    @extend_schema(parameters=[OpenApiParameter("limit", int, description="Max messages (default 50, max 500)")])
    def get(self, request):
        data = validated(HistoryQuerySerializer, request.query_params)
        messages = selectors.history(request.user, data["limit"])
        return Response({"success": True, "messages": [message_payload(m) for m in messages]})


class ChatGreetingView(GenericAPIView):
    @extend_schema(request=None)
    def post(self, request):
        return Response({"success": True, **services.greeting(request.user)})


class ChatClearView(GenericAPIView):
    @extend_schema(request=None)
    def post(self, request):
        services.clear_history(request.user)
        return Response({"success": True, "message": "Chat history cleared"})


class CommandView(GenericAPIView):
    """Parse a command in plain words and analyse it without applying it (issue 15, seed: Dynamic Commands)."""

    serializer_class = CommandRequestSerializer

    @extend_schema(responses=CommandResponseSerializer)
    def post(self, request):
        data = validated(CommandRequestSerializer, request.data)
        result = services.submit_command(request.user, data["prompt"])
        return Response({"success": True, "status": "success", **result})


class CommandConfirmView(GenericAPIView):
    """Apply a command analysed by POST /api/commands, once, with its one-time confirmation token."""

    serializer_class = CommandConfirmSerializer

    @extend_schema(responses=CommandConfirmResponseSerializer)
    def post(self, request):
        data = validated(CommandConfirmSerializer, request.data)
        return Response({"success": True, **services.confirm_command(request.user, data["confirmation_token"])})


class CommandHistoryView(GenericAPIView):
    serializer_class = CommandHistoryQuerySerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int, description="Max commands (default 50, max 200)"),
            OpenApiParameter("offset", int, description="Skip this many (newest first)"),
        ],
        responses=CommandHistoryResponseSerializer,
    )
    def get(self, request):
        data = validated(CommandHistoryQuerySerializer, request.query_params)
        records, total = selectors.command_history(request.user, limit=data["limit"], offset=data["offset"])
        return Response({"success": True, "commands": [command_payload(r) for r in records], "total": total})
