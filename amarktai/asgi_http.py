"""Django over ASGI with one thread hop per request: the HTTP half of amarktai.asgi.

Django's own ASGIHandler serves a synchronous project (every view and middleware here is sync) at a fraction of the
speed of the same code under WSGI. For each request it enters a ThreadSensitiveContext (a new one-thread executor, so a
new thread, per request), hops to that thread and back three times (the request_started signal, the middleware chain
with the view, response.close() with request_finished) and runs a second task that listens for a disconnect it cannot
act on: a sync view cannot be cancelled. On this 2-core machine that capped any ASGI server at ~400 hello-worlds/s,
against ~2,000/s per gunicorn worker.

``DjangoHTTP`` reads the body on the event loop, then does everything Django does for a request in ONE call on a
long-lived thread pool, exactly as a WSGI worker thread would: request_started, the synchronous middleware chain and
the view, the response's content and close() (request_finished, which returns the thread's database connection). The
event loop only sends the bytes. A streaming response (WhiteNoise's static files, a file download) is iterated from the
pool, chunk by chunk, so the loop never blocks on a file either.

The pool runs through asgiref's ``sync_to_async`` (thread_sensitive=False with this executor), so code in a view that
calls ``async_to_sync`` (realtime.events.publish sending to the channel layer) still runs that coroutine on the
server's event loop, which the in-memory channel layer of the embedded mode needs. Each pool thread keeps its own
database connection, as gunicorn's threads do: settings.ASGI_THREADS bounds both the requests served at once and the
connections the ASGI process holds.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

_DONE = object()


class DjangoHTTP(ASGIHandler):
    """An ASGI application for HTTP that runs Django's synchronous handler path (see the module docstring)."""

    def __init__(self, threads=None):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)  # the synchronous chain: no adaptation per middleware
        self.executor = ThreadPoolExecutor(
            max_workers=threads or settings.ASGI_THREADS, thread_name_prefix="django-http"
        )
        self._respond = sync_to_async(self._respond_sync, thread_sensitive=False, executor=self.executor)
        self._call = sync_to_async(_call, thread_sensitive=False, executor=self.executor)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await self._respond(scope, body_file)
            if response.streaming:
                await self._send_streaming(response, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    def _respond_sync(self, scope, body_file):
        """Everything a WSGI handler does for one request, on a pool thread. Returns the response, closed unless it
        streams (a streaming response is closed once sent)."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.content  # noqa: B018 - rendered here, on the pool thread
            response.close()  # request_finished: this thread's database connection is returned here
        return response

    async def _send_streaming(self, response, send):
        """Send a streaming response, pulling a sync iterator's chunks on the pool; close it on the pool."""
        try:
            await send({"type": "http.response.start", "status": response.status_code, "headers": _headers(response)})
            if response.is_async:
                async for part in response.streaming_content:
                    for chunk, _ in self.chunk_bytes(part):
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
            else:
                iterator = iter(response.streaming_content)
                while (part := await self._call(next, iterator, _DONE)) is not _DONE:
                    for chunk, _ in self.chunk_bytes(part):
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await self._call(response.close)


def _call(func, *args):
    return func(*args)


def _headers(response):
    headers = [
        (k.encode("ascii") if isinstance(k, str) else k, v.encode("latin1") if isinstance(v, str) else v)
        for k, v in response.items()
    ]
    headers += [(b"Set-Cookie", c.output(header="").encode("ascii").strip()) for c in response.cookies.values()]
    return headers
