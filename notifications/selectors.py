"""Read queries of the notifications app, each scoped to one user; single rows through ``access`` (404 for a missing
row and another user's alike)."""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from amarktai.tenancy import access
from notifications.kinds import ChannelKind, EventKind
from notifications.models import Channel, Delivery, NotificationSettings, Subscription

DELIVERY_LIST_LIMIT = 100


def access_channel(user: Any, channel_id: Any, *, lock: bool = False) -> Channel:
    return access(Channel.objects, user, channel_id, "Notification channel", lock=lock)


def channels(user: Any) -> list[Channel]:
    return list(Channel.objects.owned_by(user).prefetch_related("subscriptions").order_by("created_at"))


def preferences(user: Any) -> dict[str, list[str]]:
    """{event kind: [channel id, ...]} for every event kind (an empty list: not sent anywhere)."""
    chosen: dict[str, list[str]] = {kind: [] for kind in EventKind.values}
    for kind, channel_id in (
        Subscription.objects.owned_by(user).order_by("channel__created_at").values_list("event_kind", "channel_id")
    ):
        chosen.setdefault(kind, []).append(str(channel_id))
    return chosen


def notification_settings(user: Any) -> NotificationSettings:
    """The user's time zone and report hour (defaults when never set; not saved)."""
    row = NotificationSettings.objects.owned_by(user).first()
    return row if row is not None else NotificationSettings(user=user)


def subscribed_channels(user_id: Any, event_kind: str) -> list[Channel]:
    """The user's enabled channels that ``event_kind`` goes to."""
    return list(Channel.objects.owned_by(user_id).filter(enabled=True, subscriptions__event_kind=event_kind).distinct())


def subscribed_kinds(user_ids: Iterable[Any], event_kinds: Iterable[str]) -> set[tuple[str, str]]:
    """(user id, event kind) pairs among these users and kinds with at least one enabled channel: one query for a
    batch of events (notifications.services.listener.on_events)."""
    rows = (
        Channel.objects.filter(
            user_id__in=list(user_ids), enabled=True, subscriptions__event_kind__in=list(event_kinds)
        )
        .values_list("user_id", "subscriptions__event_kind")
        .distinct()
    )
    return {(str(user_id), str(kind)) for user_id, kind in rows}


def email_channels(user_id: Any) -> list[Channel]:
    return list(Channel.objects.owned_by(user_id).filter(enabled=True, kind=ChannelKind.EMAIL))


def deliveries(user: Any, status: str | None = None, channel_id: Any = None, limit: int = 50) -> QuerySet[Delivery]:
    """The user's delivery log, newest first."""
    qs = Delivery.objects.owned_by(user)
    if status:
        qs = qs.filter(status=status)
    if channel_id:
        qs = qs.filter(channel_id=channel_id)
    return qs.order_by("-created_at")[: min(limit, DELIVERY_LIST_LIMIT)]


def telegram_channel_for_chat(chat_id: str) -> Channel | None:
    """The Telegram channel linked to this chat (a chat is linked to one account at most). Not user-scoped: the chat
    id is what identifies the user here, proven by the one-time link code."""
    return Channel.objects.filter(kind=ChannelKind.TELEGRAM, target=chat_id).select_related("user").first()
