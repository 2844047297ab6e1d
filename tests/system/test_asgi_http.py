"""The one-process server's hot path: Django over ASGI in one thread hop (amarktai.asgi_http), the orjson JSON renderer
(amarktai.renderers) and the message middleware that builds its storage only when used (amarktai.middleware)."""

import datetime
import decimal
import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.contrib import messages
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer

from accounts.services import issue_tokens
from amarktai.renderers import JSONRenderer
from bots.models import Bot


@pytest.fixture
def http_app():
    """A DjangoHTTP of the test's own, its pool thread's database connection closed at the end (the test database is
    dropped after the run, and PostgreSQL refuses that while a session is open)."""
    from django.db import connections

    from amarktai.asgi_http import DjangoHTTP

    app = DjangoHTTP(threads=1)
    yield app
    app.executor.submit(connections.close_all).result()
    app.executor.shutdown()


def asgi_get(application, path, token=None):
    headers = [(b"host", b"testserver")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))

    async def get():
        return await HttpCommunicator(application, "GET", path, headers=headers).get_response(timeout=10)

    return async_to_sync(get)()


@pytest.mark.django_db(transaction=True)  # the pool thread has a database connection of its own
def test_the_api_over_asgi_answers_as_over_wsgi(http_app, user, auth_client):
    for i in range(3):
        Bot.objects.create(
            user=user, name=f"B{i}", exchange="luno", symbol="BTC/ZAR", initial_capital=1000, current_capital=1000
        )
    token = issue_tokens(user)["token"]
    response = asgi_get(http_app, "/api/bots", token)
    assert response["status"] == 200
    headers = dict(response["headers"])
    assert headers[b"Content-Type"] == b"application/json"
    body = json.loads(response["body"])
    assert body["total"] == 3 and len(body["bots"]) == 3
    assert body == auth_client.get("/api/bots").json()
    # An error still gets the contract's schema, and the body length is declared.
    refused = asgi_get(http_app, "/api/bots")
    assert refused["status"] == 401
    assert json.loads(refused["body"])["error_code"] == "AUTH_REQUIRED"


@pytest.mark.django_db(transaction=True)
def test_a_streaming_response_is_streamed_over_asgi(http_app, user):
    token = issue_tokens(user)["token"]
    response = asgi_get(http_app, "/api/trades/export?format=csv", token)
    assert response["status"] == 200
    assert dict(response["headers"])[b"Content-Type"].startswith(b"text/csv")
    assert response["body"].decode().splitlines()[0].startswith("timestamp")


def test_the_json_renderer_writes_what_drf_wrote():
    payload = {
        "success": True,
        "n": [1, 2.5, None, False],
        "text": "héllo \u2028 \u2029 </script>",
        "amount": decimal.Decimal("12.3400"),
        "at": timezone.now(),
        "at_micro": datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC),
        "naive": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "day": datetime.date(2026, 1, 2),
        "clock": datetime.time(1, 2, 3),
        "span": datetime.timedelta(seconds=90),
        "id": uuid.uuid4(),
        "lazy": gettext_lazy("Not found"),
        "tags": ("a", "b"),
        7: "an int key",
    }
    ours, drf = JSONRenderer().render(payload), DRFJSONRenderer().render(payload)
    assert ours == drf
    # What orjson cannot encode falls back to DRF's renderer; so does pretty printing.
    assert JSONRenderer().render({"big": 2**70}) == DRFJSONRenderer().render({"big": 2**70})
    pretty = "application/json; indent=2"
    assert JSONRenderer().render({"a": [1]}, pretty) == DRFJSONRenderer().render({"a": [1]}, pretty)
    assert JSONRenderer().render(None) == b""


@pytest.mark.django_db
def test_the_message_storage_is_built_only_when_used(monkeypatch):
    from django.contrib.sessions.middleware import SessionMiddleware

    from amarktai import middleware

    built = []
    real = middleware.default_storage
    monkeypatch.setattr(middleware, "default_storage", lambda request: built.append(1) or real(request))

    def view(request):
        if request.path == "/admin/":
            messages.info(request, "Saved.")
        return HttpResponse("ok")

    chain = SessionMiddleware(middleware.LazyMessageMiddleware(view))
    api = chain(RequestFactory().get("/api/bots"))
    assert api.status_code == 200 and built == [] and "messages" not in api.cookies
    admin = chain(RequestFactory().get("/admin/"))
    assert built == [1]
    assert "messages" in admin.cookies  # stored for the next page, as Django's own middleware does
