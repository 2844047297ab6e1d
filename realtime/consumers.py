"""WebSocket /api/ws: authenticated per-user event feed with ping/pong (see the contract's "WebSocket" section)."""

import asyncio
import json
import logging
import time

from channels.generic.websocket import AsyncWebsocketConsumer

from amarktai.utils import iso_now
from realtime import auth, events, translate
from realtime.metrics import WS_CONNECTIONS, WS_MESSAGES

logger = logging.getLogger(__name__)

CLOSE_AUTH = 4401  # the client's credential was missing, invalid or expired


class EventsConsumer(AsyncWebsocketConsumer):
    """Joins ``user.<id>`` (admins: ``admins``, which carries every user's events, so an admin never gets one twice)."""

    user = None
    groups_joined = ()
    counted = False
    expiry_task = None

    async def connect(self):
        raw = auth.raw_token(self.scope)
        self.user = await auth.authenticate(raw)
        # Accept first, then close: a browser only sees the close code of an accepted socket.
        await self.accept()
        if self.user is None:
            await self.close(code=CLOSE_AUTH)
            return
        self.groups_joined = (events.ADMIN_GROUP,) if self.user.is_admin else (events.user_group(self.user.pk),)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        WS_CONNECTIONS.inc()
        self.counted = True
        expires_at = _jwt_expiry(raw)
        if expires_at is not None:
            self.expiry_task = asyncio.ensure_future(self._close_at(expires_at))

    async def _close_at(self, expires_at):
        """A JWT session ends when the token expires: close with 4401 so the client refreshes and reconnects."""
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self.close(code=CLOSE_AUTH)

    async def disconnect(self, code):
        if self.expiry_task is not None:
            self.expiry_task.cancel()
            self.expiry_task = None
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = ()
        if self.counted:
            WS_CONNECTIONS.dec()
            self.counted = False

    async def receive(self, text_data=None, bytes_data=None):
        if self.user is None:
            return
        try:
            data = json.loads(text_data if text_data is not None else bytes_data)
        except (TypeError, ValueError):
            await self._send_json(
                {
                    "type": "error",
                    "error": "Messages must be JSON objects",
                    "error_code": "VALIDATION_ERROR",
                    "timestamp": iso_now(),
                }
            )
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "ping":
            await self._send_json({"type": "pong", "timestamp": iso_now()})
            return
        await self._send_json(
            {
                "type": "error",
                "error": f"Unknown message type: {str(kind)[:40]}",
                "error_code": "VALIDATION_ERROR",
                "timestamp": iso_now(),
            }
        )

    async def amarktai_event(self, message):
        out = translate.ws_message(message)
        if out is not None:
            WS_MESSAGES.labels(out["type"]).inc()
            await self._send_json(out)

    async def _send_json(self, data):
        await self.send(text_data=json.dumps(data, separators=(",", ":")))


def _jwt_expiry(raw):
    """The "exp" (epoch seconds) of an already validated access token; None for API keys (they do not expire).

    The token was verified by ``auth.authenticate`` a moment ago, so it is read here without verifying it again: a token
    that expired in between must yield its (past) exp, which closes the socket at once, not None, which never would.
    """
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import ApiKey

    if not raw or raw.startswith(ApiKey.PREFIX):
        return None
    try:
        return float(AccessToken(raw, verify=False)["exp"])
    except Exception:  # noqa: BLE001
        return None
