"""Request limits on the real servers: gunicorn (the production API server) refuses an oversized body from its
Content-Length alone, without reading it; nginx running the repository's nginx.conf refuses one itself in the API's
error schema, and its access log never holds a query string (WebSocket and SSE clients authenticate with ?token=)."""

import socket
import time

import httpx
import pytest
from django.db import connection

from tests import servers
from tests.system.test_proxy_clients import _require_nginx

pytestmark = pytest.mark.slow

ERROR_KEYS = {"success", "error", "error_code", "timestamp"}


def _raw_response(base, request, timeout=10):
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received


def test_gunicorn_refuses_a_300_mb_body_before_reading_it():
    """Content-Length says 300 MB and one byte follows: the answer is an immediate 413, so nothing waited for (or
    buffered) the rest. Before, DRF's parser read the whole stream: a 300 MB request left the worker 300 MB larger."""
    with servers.gunicorn() as app:
        started = time.monotonic()
        raw = _raw_response(
            app,
            b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Forwarded-Proto: https\r\nContent-Length: 314572800\r\n\r\n{",
        )
        elapsed = time.monotonic() - started
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), raw[:500]
    assert b'"error_code": "PAYLOAD_TOO_LARGE"' in body and b"Traceback" not in raw
    assert elapsed < 5, elapsed


def _access_log_once_written(workdir, line):
    """nginx writes a request's log line after it has sent the response: wait for it."""
    deadline = time.monotonic() + 10
    while True:
        log = (workdir / "access.log").read_text()
        if line in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_nginx_refuses_big_bodies_in_the_error_schema_and_logs_no_query_string():
    _require_nginx()
    with servers.gunicorn({"DATABASE_URL": servers.database_url(connection)}) as app:
        with servers.nginx(int(app.rsplit(":", 1)[1])) as (proxy, workdir):
            with httpx.Client(base_url=proxy, verify=servers.tls_context(workdir), timeout=30) as client:
                big = client.post(
                    "/api/auth/login",
                    content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                    headers={"Content-Type": "application/json"},
                )
                # The log format is the http block's, for every location (/api/ws and /api/realtime/ alike).
                unauthenticated = client.get("/api/trades?token=SEKRET-QUERY&limit=5")
            log = _access_log_once_written(workdir, '"GET /api/trades HTTP/1.1" 401')
    assert big.status_code == 413 and big.headers["content-type"].startswith("application/json")
    body = big.json()
    assert set(body) == ERROR_KEYS and body["success"] is False and body["error_code"] == "PAYLOAD_TOO_LARGE"
    if time.localtime().tm_gmtoff == 0:
        assert body["timestamp"].endswith("Z"), body
    assert unauthenticated.status_code == 401
    assert '"GET /api/trades HTTP/1.1" 401' in log, log
    assert "SEKRET" not in log and "token=" not in log and "limit=" not in log, log
