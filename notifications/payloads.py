"""Response shapes of the notifications app. A webhook secret appears only in the answer that made it."""

from typing import Any

from amarktai.utils import iso
from notifications.kinds import ChannelKind, EventKind
from notifications.models import Channel, Delivery, NotificationSettings


def _target(channel: Channel) -> str:
    if channel.kind == ChannelKind.TELEGRAM:
        return f"chat …{channel.target[-4:]}"
    return channel.target


def channel_payload(channel: Channel) -> dict[str, Any]:
    return {
        "id": str(channel.id),
        "kind": channel.kind,
        "name": channel.name,
        "target": _target(channel),
        "enabled": channel.enabled,
        "failure_count": channel.failure_count,
        "disabled_reason": channel.disabled_reason,
        "has_secret": bool(channel.secret_enc),
        "event_kinds": sorted(s.event_kind for s in channel.subscriptions.all()),
        "last_success_at": iso(channel.last_success_at),
        "last_failure_at": iso(channel.last_failure_at),
        "created_at": iso(channel.created_at),
    }


def delivery_payload(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": str(delivery.id),
        "channel_id": str(delivery.channel_id) if delivery.channel_id else None,
        "channel_kind": delivery.channel_kind,
        "event_kind": delivery.event_kind,
        "subject": delivery.subject,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response_code": delivery.response_code,
        "error": delivery.error,
        "created_at": iso(delivery.created_at),
        "last_attempt_at": iso(delivery.last_attempt_at),
        "next_attempt_at": iso(delivery.next_attempt_at),
        "delivered_at": iso(delivery.delivered_at),
    }


def preferences_payload(chosen: dict[str, list[str]], settings_row: NotificationSettings) -> dict[str, Any]:
    return {
        "preferences": chosen,
        "kinds": [{"kind": value, "label": label} for value, label in EventKind.choices],
        "timezone": settings_row.timezone,
        "report_hour": settings_row.report_hour,
    }
