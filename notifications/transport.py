"""The notifications app's outgoing I/O, and nothing else: email through Django's backend, signed webhook POSTs, the
Telegram Bot HTTP API. Each send returns an ``Outcome`` (never raises for a failure of the other side).

Webhook signature: ``X-Amarktai-Signature: sha256=<hex HMAC-SHA256 of "<X-Amarktai-Timestamp>.<raw body>">`` keyed
with the endpoint's secret (README, "Notifications", shows how to verify it).
"""

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.mail import send_mail

from amarktai.errors import ValidationFailed

SIGNATURE_HEADER = "X-Amarktai-Signature"
TIMESTAMP_HEADER = "X-Amarktai-Timestamp"
EVENT_HEADER = "X-Amarktai-Event"
USER_AGENT = "Amarktai-Notifications/1"


@dataclass
class Outcome:
    ok: bool
    response_code: int | None = None
    error: str = ""


# ------------------------------------------------------------------------------------------------------ SSRF guard


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)


def check_url(url: str, *, resolve: bool = True) -> None:
    """Refuse a webhook URL that is not http(s), carries credentials, or (unless NOTIFY_ALLOW_PRIVATE_TARGETS) names or
    resolves to a loopback, private, link-local, multicast or reserved address. ValidationFailed on ``target``."""

    def refuse(why: str) -> None:
        raise ValidationFailed(f"target: {why}", details={"target": [why]})

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        refuse("not a valid URL")
        return
    if parts.scheme not in ("http", "https") or not parts.hostname:
        refuse("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        refuse("must not carry a user name or password")
    if settings.NOTIFY_ALLOW_PRIVATE_TARGETS:
        return
    host = parts.hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            refuse("must be a public address")
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
        except OSError:
            refuse("the host name does not resolve")
            return
        addresses = [info[4][0] for info in infos]
    if not addresses or not all(_is_public(a) for a in addresses):
        refuse("must be a public address (loopback, private and link-local addresses are refused)")


# --------------------------------------------------------------------------------------------------------- senders


def _short(text: str) -> str:
    return text[:490]


def send_email(address: str, subject: str, message: str) -> Outcome:
    try:
        send_mail(subject, message, None, [address])
    except Exception as exc:  # noqa: BLE001 - any backend failure is a failed attempt
        return Outcome(False, None, _short(f"{exc.__class__.__name__}: {exc}"))
    return Outcome(True)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def send_webhook(url: str, secret: str, event: str, document: dict[str, Any]) -> Outcome:
    """POST the JSON document, signed. 2xx is delivered; redirects are not followed (a redirect could lead anywhere)."""
    try:
        check_url(url)
    except ValidationFailed as exc:
        return Outcome(False, None, _short(exc.message))
    body = webhook_body(document)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        EVENT_HEADER: event,
    }
    try:
        response = httpx.post(
            url, content=body, headers=headers, timeout=settings.NOTIFY_HTTP_TIMEOUT_SECONDS, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        return Outcome(False, None, _short(f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__))
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code)
    return Outcome(False, response.status_code, f"HTTP {response.status_code}")


# -------------------------------------------------------------------------------------------------------- Telegram


class TelegramUnavailable(Exception):
    """No bot token, or the Bot API could not be reached or said no."""


def telegram_configured() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


def _telegram(method: str, payload: dict[str, Any], timeout: float | None = None) -> tuple[int, dict[str, Any]]:
    if not telegram_configured():
        raise TelegramUnavailable("Telegram is not configured on this server (TELEGRAM_BOT_TOKEN)")
    url = f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{settings.TELEGRAM_BOT_TOKEN}/{method}"
    try:
        response = httpx.post(url, json=payload, timeout=timeout or settings.NOTIFY_HTTP_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        # the message of an httpx error can carry the URL, and the URL carries the token: name the class only
        raise TelegramUnavailable(f"Telegram API unreachable ({exc.__class__.__name__})") from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    return response.status_code, data if isinstance(data, dict) else {}


def send_telegram(chat_id: str, text: str) -> Outcome:
    try:
        status, data = _telegram("sendMessage", {"chat_id": chat_id, "text": text[:4000]})
    except TelegramUnavailable as exc:
        return Outcome(False, None, _short(str(exc)))
    if status == 200 and data.get("ok"):
        return Outcome(True, status)
    return Outcome(False, status, _short(str(data.get("description") or f"HTTP {status}")))


def telegram_updates(offset: int) -> list[dict[str, Any]]:
    """getUpdates from ``offset`` (short poll). Raises TelegramUnavailable."""
    status, data = _telegram("getUpdates", {"offset": offset, "timeout": 0, "allowed_updates": ["message"]})
    if status != 200 or not data.get("ok"):
        raise TelegramUnavailable(str(data.get("description") or f"HTTP {status}"))
    result = data.get("result")
    return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []


def telegram_bot_username() -> str:
    """The bot's @username (getMe), "" when it cannot be had."""
    try:
        status, data = _telegram("getMe", {})
    except TelegramUnavailable:
        return ""
    result = data.get("result") if status == 200 and data.get("ok") else None
    return str(result.get("username") or "") if isinstance(result, dict) else ""
