"""Under the ASGI server, one HTTP request is served in ONE thread hop: request_started, the synchronous middleware
chain, the view, rendering and request_finished all run in one call on amarktai.asgi_http's pool."""

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from channels.testing import HttpCommunicator


@pytest.mark.django_db
def test_an_asgi_request_hops_to_a_worker_thread_only_a_few_times(monkeypatch):
    from amarktai.asgi import django_asgi_app

    hops = []
    original = SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    async def ping():
        return await HttpCommunicator(
            django_asgi_app, "GET", "/api/system/ping", headers=[(b"host", b"testserver")]
        ).get_response(timeout=5)

    async_to_sync(ping)()  # warm up (first-request work)
    monkeypatch.setattr(SyncToAsync, "__call__", counting)
    response = async_to_sync(ping)()
    assert response["status"] == 200
    # Django's ASGIHandler took 5 (request_started, the chain, CSRF's process_view, the view, response.close), each
    # in a new thread per request; 15 before amarktai.middleware.SyncChainMiddleware.
    assert hops == ["DjangoHTTP._respond_sync"], hops
