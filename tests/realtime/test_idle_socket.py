"""An idle WebSocket survives longer than channels-redis's 5 s blocking receive (redis-py's default read timeout is also
5 s: without a longer one the consumer died with "Timeout reading" and close code 1011). Runs with REDIS_URL."""

import asyncio

import pytest
from django.conf import settings

from realtime import events
from tests.realtime.conftest import publish, run, token_for, ws_connect, ws_receive

pytestmark = pytest.mark.slow


@pytest.mark.django_db(transaction=True)
def test_idle_socket_still_delivers_after_redis_block_timeout(user):
    if not settings.REDIS_URL:
        pytest.skip("the idle read timeout only exists with channels-redis")

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        await asyncio.sleep(7)  # idle past one blocking-receive cycle
        await comm.send_json_to({"type": "ping"})
        assert (await ws_receive(comm, timeout=5))["type"] == "pong"
        await publish(user.pk, events.ALERT, {"level": "info", "message": "still here"})
        message = await ws_receive(comm, timeout=5)
        assert message == {"type": "alert", "level": "info", "message": "still here"}
        await comm.disconnect()

    run(scenario)
