"""A fake Telegram Bot HTTP API on 127.0.0.1 (https://core.telegram.org/bots/api) for tests.

Serves ``/bot<token>/getMe``, ``/bot<token>/sendMessage`` and ``/bot<token>/getUpdates`` (GET or POST, JSON or form
parameters) the way the real API answers: ``{"ok": true, "result": ...}``, 401 ``{"ok": false, "error_code": 401,
"description": "Unauthorized"}`` for a wrong token, 400 for a missing chat_id or text. getUpdates returns the queued
updates with ``update_id >= offset`` and, as Telegram does, forgets the ones below the offset.

``say(chat_id, text)`` queues a user's message to the bot; ``push(url, secret_token)`` delivers the queued updates to
a webhook as Telegram does after setWebhook (POST, JSON, X-Telegram-Bot-Api-Secret-Token) and drops each one answered
2xx; ``sent`` lists the bot's sendMessage calls as
``(chat_id, text)``; ``fail_sends`` makes the next N sendMessage calls answer 500.
"""

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

TOKEN = "123456:fake-telegram-token"
USERNAME = "AmarktaiTestBot"


class FakeTelegram:
    def __init__(self, token=TOKEN, username=USERNAME):
        self.token = token
        self.username = username
        self.sent = []
        self.updates = []
        self.fail_sends = 0
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _params(self):
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    raw = self.rfile.read(length)
                    if "json" in (self.headers.get("Content-Type") or ""):
                        params.update(json.loads(raw or b"{}"))
                    else:
                        params.update(dict(parse_qsl(raw.decode())))
                return parts.path, params

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._handle()

            def do_POST(self):
                self._handle()

            def _handle(self):
                path, params = self._params()
                prefix = f"/bot{fake.token}/"
                if not path.startswith(prefix):
                    return self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                method = path[len(prefix) :]
                status, body = fake.call(method, params)
                self._answer(status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def call(self, method, params):
        if method == "getMe":
            return 200, {
                "ok": True,
                "result": {"id": 123456, "is_bot": True, "first_name": "Amarktai", "username": self.username},
            }
        if method == "sendMessage":
            if not params.get("chat_id") or not params.get("text"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            with self._lock:
                if self.fail_sends > 0:
                    self.fail_sends -= 1
                    return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
                self.sent.append((str(params["chat_id"]), params["text"]))
            return 200, {
                "ok": True,
                "result": {
                    "message_id": next(self._message_ids),
                    "chat": {"id": int(params["chat_id"]), "type": "private"},
                    "date": int(time.time()),
                    "text": params["text"],
                },
            }
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            with self._lock:
                if offset:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                return 200, {"ok": True, "result": list(self.updates)}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def say(self, chat_id, text, username="trader"):
        """A user writes ``text`` to the bot from private chat ``chat_id``."""
        with self._lock:
            update_id = next(self._ids)
            self.updates.append(
                {
                    "update_id": update_id,
                    "message": {
                        "message_id": update_id,
                        "from": {"id": int(chat_id), "is_bot": False, "first_name": username},
                        "chat": {"id": int(chat_id), "type": "private", "username": username},
                        "date": int(time.time()),
                        "text": text,
                    },
                }
            )
        return update_id

    def push(self, url, secret_token):
        """Deliver the queued updates to a webhook; returns the status code of each POST."""
        import httpx

        codes = []
        with self._lock:
            pending = list(self.updates)
        for update in pending:
            response = httpx.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret_token}, timeout=10
            )
            codes.append(response.status_code)
            if 200 <= response.status_code < 300:
                with self._lock:
                    self.updates = [u for u in self.updates if u["update_id"] != update["update_id"]]
        return codes

    def messages_to(self, chat_id):
        return [text for chat, text in self.sent if chat == str(chat_id)]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
