"""Real-time test helpers: drive the real ASGI application (amarktai.asgi) with Channels' communicators.

Tests are sync functions that run an async scenario with asgiref's async_to_sync, so database_sync_to_async code runs on
the test's thread. The channel layer is whatever the settings pick (in-memory, or channels-redis when REDIS_URL is set).
"""

import asyncio
import json
import sys

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import channel_layers
from channels.testing import ApplicationCommunicator, WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

_open = []  # communicators of the running scenario (tests run one at a time)


def run(scenario, *args):
    """Run an async scenario, then end every socket and stream it left open, one at a time, before its event loop
    closes. (Left to asyncio's shutdown, every task is cancelled at once and the loop waits for all of them without a
    limit: with channels-redis a CI run hung there for good.) Tasks still pending after that are cancelled with a
    bounded wait, and any that ignore it fail the test with their stacks instead of hanging the run."""

    async def scenario_then_close(*args):
        try:
            return await scenario(*args)
        finally:
            while _open:
                await _close_quietly(_open.pop())
            await _settle_leftover_tasks()

    return async_to_sync(scenario_then_close)(*args)


async def _settle_leftover_tasks(timeout=5):
    current = asyncio.current_task()
    leftover = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if not leftover:
        return
    await asyncio.wait(leftover, timeout=0.5)  # let short-lived tasks (channels-redis backup cleaners) finish
    leftover = [task for task in leftover if not task.done()]
    for task in leftover:
        task.cancel()
    if leftover:
        await asyncio.wait(leftover, timeout=timeout)
    stuck = [task for task in leftover if not task.done()]
    if stuck:
        stacks = "\n".join(f"{task!r}: {task.get_stack()!r}" for task in stuck)
        print(f"tasks that ignored cancellation:\n{stacks}", file=sys.__stderr__, flush=True)
        raise AssertionError(f"{len(stuck)} task(s) ignored cancellation after the scenario:\n{stacks}")


async def _close_quietly(comm):
    if comm.future.done():
        return
    try:
        if isinstance(comm, WebsocketCommunicator):
            await comm.disconnect(timeout=3)
        else:
            await comm.send_input({"type": "http.disconnect"})
            await comm.wait(3)
    except (Exception, asyncio.CancelledError):  # noqa: BLE001 - best effort: the scenario's own result stands
        pass


def token_for(user):
    """A valid access token of the user. Built without the database (a login's refresh token is stored for the
    blacklist), so a scenario can call it inside its event loop."""
    return str(AccessToken.for_user(user))


@pytest.fixture(autouse=True)
def _fresh_layer():
    """A fresh channel layer per test: groups and queues never leak between tests (or event loops)."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def application():
    from amarktai.asgi import application as app

    return app


async def publish(user_id, event_type, payload):
    """realtime.events.publish from sync code, as services call it (tests use transaction=True: on_commit fires)."""
    from realtime import events

    await sync_to_async(events.publish)(user_id, event_type, payload)


async def ws_connect(path="/api/ws", token=None, headers=None):
    url = f"{path}?token={token}" if token else path
    comm = WebsocketCommunicator(application(), url, headers=headers or [])
    _open.append(comm)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


async def ws_receive(comm, timeout=3):
    return json.loads(await comm.receive_from(timeout=timeout))


class SSEStream:
    """A streaming HTTP request against the real ASGI app, with an incremental SSE parser."""

    def __init__(self, path="/api/realtime/events", query="", headers=None, method="GET"):
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                *[(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.comm = ApplicationCommunicator(application(), scope)
        _open.append(self.comm)
        self.buffer = ""
        self.status = None
        self.headers = {}
        self.more_body = True

    async def start(self, timeout=5):
        await self.comm.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await self.comm.receive_output(timeout)
        assert start["type"] == "http.response.start"
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return self

    async def body(self, timeout=5):
        """The whole body of a non-streaming (error) response."""
        chunks = []
        while self.more_body:
            message = await self.comm.receive_output(timeout)
            chunks.append(message.get("body", b""))
            self.more_body = message.get("more_body", False)
        return b"".join(chunks)

    async def event(self, timeout=5):
        """The next SSE event as {"id", "event", "data"} (comment/retry-only blocks are skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while "\n\n" in self.buffer:
                block, self.buffer = self.buffer.split("\n\n", 1)
                fields = {}
                for line in block.split("\n"):
                    key, _, value = line.partition(": ")
                    fields.setdefault(key, []).append(value)
                if "event" in fields:
                    return {
                        "id": fields.get("id", [None])[0],
                        "event": fields["event"][0],
                        "data": json.loads("\n".join(fields["data"])),
                    }
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("no SSE event")
            assert self.more_body, "the stream has ended"
            message = await self.comm.receive_output(remaining)
            assert message["type"] == "http.response.body"
            self.buffer += message.get("body", b"").decode()
            self.more_body = message.get("more_body", False)

    async def events_until(self, name, timeout=5):
        seen = []
        while True:
            ev = await self.event(timeout)
            seen.append(ev)
            if ev["event"] == name:
                return seen

    async def no_event(self, timeout=0.3):
        """Nothing more arrives within ``timeout`` (without cancelling the stream, unlike a receive timeout)."""
        assert "event:" not in self.buffer, self.buffer
        assert await self.comm.receive_nothing(timeout), "unexpected SSE output"
        return True

    async def close(self):
        await self.comm.send_input({"type": "http.disconnect"})
        try:
            await self.comm.wait(2)
        except TimeoutError:
            pass
