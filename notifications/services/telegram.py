"""Telegram: link a chat to an account with a one-time code, and answer the linked chat's commands.

Linking: the user asks the portal for a code (``new_link_code``), then sends ``/start <code>`` to the bot. The update
(fetched with getUpdates by ``poll_updates``) links that chat: a Telegram channel of the user with the chat id as its
target, subscribed to every event kind. A chat is linked to one account at most; linking it again moves it.

Commands work only in a linked chat, and only on the linked account: ``/status`` (bots and P&L), ``/pause <bot name>``,
``/stop`` (the kill switch: every bot of the account stops trading), ``/help``. Any other chat gets "link first".
"""

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from bots import selectors as bot_selectors
from bots import services as bot_services
from bots.models import Bot
from bots.trading_switch import stop_trading
from notifications import selectors, transport
from notifications.kinds import ChannelKind, EventKind
from notifications.models import Channel, Subscription, TelegramCursor, TelegramLinkCode

logger = logging.getLogger(__name__)

LINK_CODE_TTL_SECONDS = 600
POLL_LOCK_KEY = "notify:telegram:poll"
LINK_FIRST = (
    "This chat is not linked to an Amarktai account. In the portal open Settings > Notifications, ask for a Telegram "
    "link code and send /start <code> here."
)
HELP = (
    "Commands: /status (your bots and P&L), /pause <bot name> (pause one bot), "
    "/stop (stop trading: every bot of your account), /help."
)


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def new_link_code(user: Any) -> dict[str, Any]:
    """A one-time code (10 minutes) to send to the bot as /start <code>. Earlier unused codes of the user stop
    working."""
    code = secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
    expires = timezone.now() + timedelta(seconds=LINK_CODE_TTL_SECONDS)
    with transaction.atomic():
        TelegramLinkCode.objects.owned_by(user).filter(used_at__isnull=True).delete()
        TelegramLinkCode.objects.create(user=user, code_hash=_hash(code), expires_at=expires)
    return {"code": code, "expires_at": expires, "bot_username": bot_username(), "configured": configured()}


def configured() -> bool:
    return transport.telegram_configured()


def bot_username() -> str:
    name = cache.get("notify:telegram:username")
    if name is None and configured():
        name = transport.telegram_bot_username()
        if name:
            cache.set("notify:telegram:username", name, 3600)
    return name or ""


@transaction.atomic
def link_chat(code: str, chat_id: str, chat_title: str = "") -> Channel | None:
    """Link ``chat_id`` to the owner of a valid, unused ``code``; None when the code is not (or no longer) valid."""
    row = (
        TelegramLinkCode.objects.select_for_update()
        .filter(code_hash=_hash(code), used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if row is None:
        return None
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    Channel.objects.filter(kind=ChannelKind.TELEGRAM, target=chat_id).exclude(user_id=row.user_id).delete()
    channel = Channel.objects.owned_by(row.user_id).filter(kind=ChannelKind.TELEGRAM, target=chat_id).first()
    if channel is None:
        channel = Channel.objects.create(
            user_id=row.user_id, kind=ChannelKind.TELEGRAM, target=chat_id, name=(chat_title or "Telegram")[:64]
        )
        Subscription.objects.bulk_create(
            [Subscription(user_id=row.user_id, channel=channel, event_kind=kind) for kind in EventKind.values]
        )
    else:
        channel.enabled, channel.failure_count, channel.disabled_reason = True, 0, ""
        channel.save(update_fields=["enabled", "failure_count", "disabled_reason", "updated_at"])
    return channel


# ------------------------------------------------------------------------------------------------------- commands


def _status(user: Any) -> str:
    overview = bot_selectors.overview(user.pk)
    lines = [
        f"{overview['active_bots']} of {overview['total_bots']} bots active; "
        f"total profit {overview['total_profit']:.2f} on capital {overview['total_capital']:.2f} {user.currency}."
    ]
    for bot in Bot.objects.owned_by(user).order_by("name")[:20]:
        lines.append(f"- {bot.name}: {bot.status}, {bot.trading_mode}, P&L {float(bot.total_profit):.2f}")
    return "\n".join(lines)


def _pause(user: Any, name: str) -> str:
    name = name.strip()
    if not name:
        return "Usage: /pause <bot name>"
    bot = Bot.objects.owned_by(user).filter(name__iexact=name).first()
    if bot is None:
        return f"You have no bot named {name!r}."
    bot_services.pause_bot(user, bot.pk, reason=f"Bot {bot.name} paused from Telegram")
    return f"Bot {bot.name} paused."


def _stop(user: Any) -> str:
    """The kill switch (bots.trading_switch): every bot paused, every open order canceled."""
    result = stop_trading(user, close_positions=False)
    paused = len(result.get("paused_bots") or [])
    return (
        f"Trading stopped: {paused} bot(s) paused and their open orders canceled. "
        "Start trading again in the portal (the button in the top bar)."
    )


def handle_message(chat_id: str, text: str, chat_title: str = "") -> str | None:
    """The reply to one message in a chat (None: say nothing)."""
    text = (text or "").strip()
    if not text.startswith("/"):
        channel = selectors.telegram_channel_for_chat(chat_id)
        return None if channel is not None else LINK_FIRST
    command, _, argument = text.partition(" ")
    command = command.split("@", 1)[0].lower()  # /pause@AmarktaiBot in groups
    if command == "/start" and argument.strip():
        channel = link_chat(argument.strip(), chat_id, chat_title)
        if channel is None:
            return "That link code is not valid (codes work once, for 10 minutes). Ask the portal for a new one."
        return f"Linked to the Amarktai account {channel.user.email}. You will get its notifications here. {HELP}"
    channel = selectors.telegram_channel_for_chat(chat_id)
    if channel is None or not channel.user.is_active:
        return LINK_FIRST
    user = channel.user
    if command == "/status":
        return _status(user)
    if command == "/pause":
        return _pause(user, argument)
    if command == "/stop":
        return _stop(user)
    return HELP


def handle_update(update: dict[str, Any]) -> None:
    message = update.get("message")
    if not isinstance(message, dict):
        return
    chat = message.get("chat") or {}
    if not isinstance(chat, dict) or chat.get("id") is None:
        return
    chat_id = str(chat["id"])
    title = str(chat.get("title") or chat.get("username") or "")
    reply = handle_message(chat_id, str(message.get("text") or ""), title)
    if reply:
        outcome = transport.send_telegram(chat_id, reply)
        if not outcome.ok:
            logger.warning("telegram reply to a chat failed: %s", outcome.error)


def webhook_secret_ok(path_secret: str, header_secret: str) -> bool:
    """Both the URL's secret and Telegram's X-Telegram-Bot-Api-Secret-Token header are TELEGRAM_WEBHOOK_SECRET."""
    expected = settings.TELEGRAM_WEBHOOK_SECRET.encode()
    return bool(expected) and (
        hmac.compare_digest(path_secret.encode(), expected) & hmac.compare_digest(header_secret.encode(), expected)
    )


def receive_update(update: dict[str, Any]) -> bool:
    """An update Telegram pushed to the webhook: handled once (Telegram resends an update it got no 2xx for, and the
    update ids only grow). False when it was seen before."""
    try:
        update_id = int(update.get("update_id") or 0)
    except (TypeError, ValueError):
        return False
    with transaction.atomic():
        cursor, _ = TelegramCursor.objects.select_for_update().get_or_create(pk=1)
        if update_id < cursor.next_offset:
            return False
        cursor.next_offset = update_id + 1
        cursor.save(update_fields=["next_offset"])
    handle_update(update)
    return True


def poll_updates() -> int:
    """Fetch and handle new updates (getUpdates from the stored offset). One poller at a time; returns how many.
    Nothing to do when Telegram pushes updates to the webhook (TELEGRAM_WEBHOOK_SECRET)."""
    if not configured() or settings.TELEGRAM_WEBHOOK_SECRET or not cache.add(POLL_LOCK_KEY, 1, 60):
        return 0
    try:
        cursor, _ = TelegramCursor.objects.get_or_create(pk=1)
        try:
            updates = transport.telegram_updates(cursor.next_offset)
        except transport.TelegramUnavailable as exc:
            logger.warning("telegram getUpdates failed: %s", exc)
            return 0
        for update in sorted(updates, key=lambda u: int(u.get("update_id") or 0)):
            update_id = int(update.get("update_id") or 0)
            # Move the cursor first: an update that fails is not handled over and over.
            TelegramCursor.objects.filter(pk=1).update(next_offset=update_id + 1)
            try:
                handle_update(update)
            except Exception:
                logger.exception("telegram update %s failed", update_id)
        return len(updates)
    finally:
        cache.delete(POLL_LOCK_KEY)
