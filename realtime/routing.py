"""Channels routes. The SSE stream is an async HTTP consumer; everything else over HTTP is plain Django."""

from django.urls import path

from realtime.consumers import EventsConsumer
from realtime.sse import EventStreamConsumer

http_urlpatterns = [
    path("api/realtime/events", EventStreamConsumer.as_asgi()),
]
websocket_urlpatterns = [
    path("api/ws", EventsConsumer.as_asgi()),
]
