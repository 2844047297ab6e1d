"""Channels: create (a webhook gets a signing secret, shown once), change, switch on/off, delete, rotate a secret,
send a test; the preferences (which event kinds go to which channels, the time zone, the report hour)."""

import secrets
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction

from amarktai.errors import ValidationFailed
from notifications import selectors, transport
from notifications.kinds import TEST, ChannelKind, EventKind
from notifications.models import Channel, Delivery, NotificationSettings, Subscription
from notifications.services import delivery as deliveries
from wallets import crypto

MAX_CHANNELS = 20


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _subscribe_all(channel: Channel) -> None:
    Subscription.objects.bulk_create(
        [Subscription(user_id=channel.user_id, channel=channel, event_kind=kind) for kind in EventKind.values]
    )


@transaction.atomic
def create_channel(user: Any, kind: str, target: str, name: str = "") -> tuple[Channel, str]:
    """A new email or webhook channel, subscribed to every event kind. Returns it and, for a webhook, its signing
    secret (the one time it is shown). Telegram channels come from linking a chat (services.telegram)."""
    if Channel.objects.owned_by(user).count() >= MAX_CHANNELS:
        raise ValidationFailed(f"At most {MAX_CHANNELS} notification channels")
    secret = ""
    if kind == ChannelKind.WEBHOOK:
        transport.check_url(target)
        secret = new_secret()
    channel = Channel.objects.create(
        user=user, kind=kind, target=target, name=name, secret_enc=crypto.encrypt(secret) if secret else ""
    )
    _subscribe_all(channel)
    return channel, secret


@transaction.atomic
def update_channel(user: Any, channel_id: Any, changes: dict[str, Any]) -> Channel:
    """Rename, retarget (email and webhook only) or switch a channel on or off. Switching on clears its failures."""
    channel = selectors.access_channel(user, channel_id, lock=True)
    fields = []
    if "name" in changes:
        channel.name = changes["name"]
        fields.append("name")
    if "target" in changes and changes["target"] != channel.target:
        if channel.kind == ChannelKind.TELEGRAM:
            raise ValidationFailed("A Telegram channel's chat is set by linking", details={"target": ["read only"]})
        if channel.kind == ChannelKind.WEBHOOK:
            transport.check_url(changes["target"])
        channel.target = changes["target"]
        fields.append("target")
    if "enabled" in changes:
        channel.enabled = changes["enabled"]
        fields.append("enabled")
        if channel.enabled:
            channel.failure_count, channel.disabled_reason = 0, ""
            fields += ["failure_count", "disabled_reason"]
    if fields:
        channel.save(update_fields=[*fields, "updated_at"])
    return channel


def delete_channel(user: Any, channel_id: Any) -> None:
    with transaction.atomic():
        selectors.access_channel(user, channel_id, lock=True).delete()


@transaction.atomic
def rotate_secret(user: Any, channel_id: Any) -> tuple[Channel, str]:
    """A new signing secret for a webhook channel (the old one stops working at once). Returned this one time."""
    channel = selectors.access_channel(user, channel_id, lock=True)
    if channel.kind != ChannelKind.WEBHOOK:
        raise ValidationFailed("Only webhook channels have a signing secret")
    secret = new_secret()
    channel.secret_enc = crypto.encrypt(secret)
    channel.save(update_fields=["secret_enc", "updated_at"])
    return channel, secret


def rotate_encryption() -> int:
    """Re-encrypt every webhook secret with the newest FIELD_ENCRYPTION_KEY (``manage.py rotate_field_keys``)."""
    count = 0
    ids = list(Channel.objects.exclude(secret_enc="").values_list("pk", flat=True))
    for pk in ids:
        with transaction.atomic():
            channel = Channel.objects.select_for_update().filter(pk=pk).first()
            if channel is None or not channel.secret_enc:
                continue
            channel.secret_enc = crypto.rotate(channel.secret_enc)
            channel.save(update_fields=["secret_enc"])
            count += 1
    return count


def send_test(user: Any, channel_id: Any) -> Delivery:
    """Queue a test message to one channel (even a switched-off one is refused: switch it on first)."""
    with transaction.atomic():
        channel = selectors.access_channel(user, channel_id)
        if not channel.enabled:
            raise ValidationFailed("The channel is switched off: switch it on to test it")
        return deliveries.enqueue(
            channel,
            TEST,
            "Amarktai test notification",
            "This is a test notification from Amarktai: this channel works.",
            {"channel_id": str(channel.pk)},
        )


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed("Unknown time zone", details={"timezone": ["unknown time zone"]}) from exc
    return name


@transaction.atomic
def set_preferences(
    user: Any,
    chosen: dict[str, list[Any]] | None = None,
    timezone_name: str | None = None,
    report_hour: int | None = None,
) -> None:
    """Replace the channels of each event kind named in ``chosen`` (kinds not named keep theirs); set the time zone
    and the daily report's local hour when given. Channel ids must be the user's own (else NOT_FOUND)."""
    for kind, channel_ids in (chosen or {}).items():
        wanted = {str(selectors.access_channel(user, channel_id).pk) for channel_id in channel_ids}
        Subscription.objects.owned_by(user).filter(event_kind=kind).exclude(channel_id__in=wanted).delete()
        have = {
            str(pk)
            for pk in Subscription.objects.owned_by(user).filter(event_kind=kind).values_list("channel_id", flat=True)
        }
        Subscription.objects.bulk_create(
            [Subscription(user=user, channel_id=pk, event_kind=kind) for pk in sorted(wanted - have)]
        )
    if timezone_name is not None or report_hour is not None:
        row, _ = NotificationSettings.objects.get_or_create(user=user)
        if timezone_name is not None:
            row.timezone = _zone(timezone_name)
        if report_hour is not None:
            row.report_hour = report_hour
        row.save()
