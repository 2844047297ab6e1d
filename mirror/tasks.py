from celery import shared_task

from mirror import services


@shared_task(name="mirror.execute_group_order", acks_late=True)
def execute_group_order(group_order_id: str) -> None:
    """Place whatever children of a group order are still pending (a retry finds the ones already placed)."""
    services.execute_group_order(group_order_id)


@shared_task(name="mirror.resume_pending")
def resume_pending() -> int:
    """Beat: group orders a crashed process left with children not yet placed are finished."""
    return services.resume_pending()
