"""Deliveries: one row per notification and channel, sent by a task, retried with exponential back-off, the channel
switched off (and its owner told) after NOTIFY_DISABLE_AFTER failed attempts in a row.

Sending never happens in the caller's thread: with Redis a Celery worker runs ``notifications.deliver``; in the
embedded default (tasks in process) a small pool of background threads does, so a slow or dead endpoint never holds up
the bot tick or request that caused the notification.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from amarktai.utils import iso, iso_now
from notifications import selectors, transport
from notifications.kinds import CHANNEL_DISABLED, ChannelKind, DeliveryStatus
from notifications.models import Channel, Delivery
from realtime import events
from wallets import crypto

logger = logging.getLogger(__name__)

# Tests set this to run attempts (and their retries) at once in the calling thread, inside its transaction.
INLINE = False
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def in_background(fn: Any, *args: Any) -> None:
    """Run ``fn(*args)`` on the notifications' background threads (embedded mode), never in the caller's."""
    _background(fn, *args)


def _background(fn: Any, *args: Any) -> None:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="amarktai-notify")
    _pool.submit(_run_closing, fn, *args)


def _run_closing(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        logger.exception("background delivery failed")
    finally:
        close_old_connections()


def dispatch(delivery_id: Any, countdown: float = 0.0) -> None:
    """Have one attempt at ``delivery_id`` made ``countdown`` seconds from now, off the caller's thread."""
    if INLINE:
        attempt(delivery_id)
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if countdown > 0:
            timer = threading.Timer(countdown, _background, args=(attempt, delivery_id))
            timer.daemon = True
            timer.start()
        else:
            _background(attempt, delivery_id)
        return
    current_app.send_task("notifications.deliver", args=[str(delivery_id)], countdown=countdown)


def enqueue(
    channel: Channel, event_kind: str, subject: str, message: str, data: dict[str, Any] | None = None
) -> Delivery:
    """A pending delivery of one notification to one channel, dispatched once the current transaction commits."""
    delivery = Delivery.objects.create(
        user_id=channel.user_id,
        channel=channel,
        channel_kind=channel.kind,
        event_kind=event_kind,
        subject=subject[:200],
        message=message,
        data=data or {},
    )
    if INLINE:
        dispatch(delivery.pk)
    else:
        transaction.on_commit(lambda: dispatch(delivery.pk))
    return delivery


def notify(
    user_id: Any, event_kind: str, subject: str, message: str, data: dict[str, Any] | None = None
) -> list[Delivery]:
    """Send a notification of ``event_kind`` to every enabled channel the user chose for it."""
    return [
        enqueue(channel, event_kind, subject, message, data)
        for channel in selectors.subscribed_channels(user_id, event_kind)
    ]


def backoff_seconds(attempts: int) -> float:
    return float(settings.NOTIFY_RETRY_BASE_SECONDS) * 2 ** max(attempts - 1, 0)


def webhook_document(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": str(delivery.pk),
        "event": delivery.event_kind,
        "subject": delivery.subject,
        "message": delivery.message,
        "data": delivery.data,
        "created_at": iso(delivery.created_at),
        "sent_at": iso_now(),
    }


def send(channel: Channel, delivery: Delivery) -> transport.Outcome:
    if channel.kind == ChannelKind.EMAIL:
        return transport.send_email(channel.target, delivery.subject, delivery.message)
    if channel.kind == ChannelKind.WEBHOOK:
        try:
            secret = crypto.decrypt(channel.secret_enc)
        except crypto.DecryptionFailed as exc:
            return transport.Outcome(False, None, str(exc))
        return transport.send_webhook(channel.target, secret, delivery.event_kind, webhook_document(delivery))
    text = delivery.message
    if not text.startswith(delivery.subject):
        text = f"{delivery.subject}\n{text}"
    return transport.send_telegram(channel.target, text)


def _claim(delivery_id: Any) -> tuple[Delivery, Channel] | None:
    """Lock the delivery, count the attempt; None when there is nothing (more) to send."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
            return None
        channel = Channel.objects.filter(pk=delivery.channel_id).first() if delivery.channel_id else None
        if channel is None or not channel.enabled:
            delivery.status = DeliveryStatus.FAILED
            delivery.error = "the channel was deleted" if channel is None else "the channel is switched off"
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "error", "next_attempt_at"])
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.next_attempt_at = None
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
        return delivery, channel


def attempt(delivery_id: Any) -> str:
    """One attempt at a delivery (the task's body). Returns the delivery's status afterwards."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return "skipped"
    delivery, channel = claimed
    outcome = send(channel, delivery)
    retry_in = None
    with transaction.atomic():
        locked = Channel.objects.select_for_update().filter(pk=channel.pk).first()
        if locked is None:  # deleted while the attempt was under way
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.FAILED, error="the channel was deleted"
            )
            return str(DeliveryStatus.FAILED)
        channel = locked
        now = timezone.now()
        delivery.response_code = outcome.response_code
        if outcome.ok:
            delivery.status, delivery.delivered_at, delivery.error = DeliveryStatus.DELIVERED, now, ""
            channel.failure_count, channel.last_success_at = 0, now
            channel.save(update_fields=["failure_count", "last_success_at", "updated_at"])
        else:
            delivery.error = outcome.error[:500] or "failed"
            channel.failure_count += 1
            channel.last_failure_at = now
            channel.save(update_fields=["failure_count", "last_failure_at", "updated_at"])
            if channel.enabled and channel.failure_count >= settings.NOTIFY_DISABLE_AFTER:
                delivery.status = DeliveryStatus.FAILED
                disable_channel(
                    channel, f"switched off after {channel.failure_count} failed attempts in a row: {delivery.error}"
                )
            elif delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
            else:
                delivery.status = DeliveryStatus.RETRYING
                retry_in = backoff_seconds(delivery.attempts)
                delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        delivery.save(update_fields=["status", "delivered_at", "error", "response_code", "next_attempt_at"])
    if retry_in is not None:
        dispatch(delivery.pk, retry_in)
    return str(delivery.status)


def disable_channel(channel: Channel, reason: str) -> None:
    """Switch a (locked) channel off, fail its waiting deliveries and tell the owner: an ``alert`` event (kind
    channel_disabled), which the listener also sends to the owner's other email channels."""
    channel.enabled = False
    channel.disabled_reason = reason[:500]
    channel.save(update_fields=["enabled", "disabled_reason", "updated_at"])
    Delivery.objects.filter(channel=channel, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]).update(
        status=DeliveryStatus.FAILED, error="the channel was switched off", next_attempt_at=None
    )
    label = channel.name or channel.get_kind_display()
    events.publish(
        channel.user_id,
        events.ALERT,
        {
            "level": "error",
            "kind": CHANNEL_DISABLED,
            "message": f"Notification channel {label} ({channel.kind}) was {reason}",
            "channel_id": str(channel.pk),
        },
    )


def retry_stale(older_than_seconds: float = 600.0) -> int:
    """Dispatch again deliveries whose retry is overdue by more than ``older_than_seconds`` (a worker or process died
    while they waited)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], created_at__lt=cutoff)
        .filter(next_attempt_at__isnull=True, last_attempt_at__isnull=True)
        .values_list("pk", flat=True)[:500]
    ) + list(
        Delivery.objects.filter(status=DeliveryStatus.RETRYING, next_attempt_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    for pk in ids:
        dispatch(pk)
    return len(ids)


def notify_email_channels(user_id: Any, subject: str, message: str, data: dict[str, Any]) -> list[Delivery]:
    """A notice for the user's email channels whatever their preferences (a channel was switched off)."""
    return [enqueue(ch, CHANNEL_DISABLED, subject, message, data) for ch in selectors.email_channels(user_id)]
