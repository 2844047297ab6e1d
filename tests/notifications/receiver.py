"""A local webhook receiver for tests: checks each request's X-Amarktai-Signature (HMAC-SHA256 of
"<X-Amarktai-Timestamp>.<body>" keyed with the endpoint's secret) exactly as README's recipe says, and records it.

``mode``: "ok" (204), "fail" (500), "slow" (sleep ``delay`` seconds, then 200)."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret, timestamp, body, signature, tolerance=300):
    """The receiver's check: a fresh timestamp and a matching signature (constant-time comparison)."""
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class WebhookReceiver:
    def __init__(self, mode="ok", delay=5.0):
        self.mode = mode
        self.delay = delay
        self.secret = None
        self.received = []  # (headers, body bytes, signature valid)
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hits += 1
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)
                if receiver.mode == "fail":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                valid = receiver.secret is not None and verify(
                    receiver.secret,
                    self.headers.get("X-Amarktai-Timestamp", "0"),
                    body,
                    self.headers.get("X-Amarktai-Signature", ""),
                )
                receiver.received.append((dict(self.headers), body, valid))
                self.send_response(204 if valid else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def documents(self):
        return [json.loads(body) for _, body, valid in self.received if valid]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
