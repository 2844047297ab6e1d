"""ASGI entry point (uvicorn: `manage.py serve`, deploy/amarktai-asgi.service): plain Django for HTTP, with one
thread hop per request (amarktai.asgi_http), Channels consumers for WebSocket and the SSE stream."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amarktai.settings")
django.setup(set_prefix=False)

from amarktai.asgi_http import DjangoHTTP  # noqa: E402

django_asgi_app = DjangoHTTP()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from realtime.routing import http_urlpatterns, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": URLRouter([*http_urlpatterns, re_path(r"", django_asgi_app)]),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
