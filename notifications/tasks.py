"""Celery tasks of the notifications app: they load ids and call a service."""

from celery import shared_task

from notifications.services import delivery, reports, telegram


@shared_task(name="notifications.deliver", acks_late=True, ignore_result=True)
def deliver(delivery_id: str) -> str:
    """One attempt at one delivery; a failed attempt schedules the next itself (delivery.attempt)."""
    return delivery.attempt(delivery_id)


@shared_task(name="notifications.periodic", ignore_result=True)
def periodic() -> int:
    return reports.periodic()


@shared_task(name="notifications.poll_telegram", ignore_result=True)
def poll_telegram() -> int:
    return telegram.poll_updates()
