"""The application as it was served before amarktai.asgi_http: the same Channels routes, with plain HTTP through
Django's own ASGIHandler (a new thread and several thread hops per request). bench/bench_servers.py serves it with
Daphne as the "before" row, so the speed-up is measured in the same run."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amarktai.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from realtime.routing import http_urlpatterns, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": URLRouter([*http_urlpatterns, re_path(r"", django_asgi_app)]),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
