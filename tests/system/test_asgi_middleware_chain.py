"""Under Daphne, one HTTP request runs the middleware chain in one thread hop (see
amarktai.middleware.SyncChainMiddleware)."""

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
    # request_started, the whole chain, CSRF's process_view, the view, rendering: 5. Each async-capable middleware
    # that followed an async handler used to add one or two hops of its own (15 in all before the fix).
    assert len(hops) <= 5, hops
