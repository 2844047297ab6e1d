"""Tenancy by construction. Every user-owned model's manager is built from ``OwnedQuerySet``, so the scoped read is
the short one: ``Model.objects.owned_by(user)``. Single rows go through ``access(queryset, user, pk, what)``, which
answers 404 for a missing row and for another user's row alike (never a 403 that confirms the row exists).

Apps wrap it in ``access_<thing>(user, id)`` selectors (bots.selectors.access_bot, trading.selectors.access_order,
...); views call those and never build querysets of their own.
"""

from typing import Any, TypeVar

from django.db import models

from amarktai.errors import NotFound

M = TypeVar("M", bound=models.Model)


class OwnedQuerySet(models.QuerySet):
    """A queryset over rows that belong to one user through ``owner_field`` (``user`` unless a model says otherwise)."""

    owner_field = "user"

    def owned_by(self, user: Any) -> "OwnedQuerySet":
        """Only ``user``'s rows (a User or a user id)."""
        return self.filter(**{self.owner_field: user})


def access(queryset: Any, user: Any, pk: Any, what: str, *, lock: bool = False) -> Any:
    """The row ``pk`` of ``queryset`` (an OwnedQuerySet or its manager) if it belongs to ``user``, else
    NotFound("<what> not found").

    ``lock`` takes the row with SELECT ... FOR UPDATE (inside the caller's transaction)."""
    scoped = queryset.owned_by(user)
    if lock:
        scoped = scoped.select_for_update()
    try:
        row = scoped.filter(pk=pk).first()
    except (ValueError, TypeError, models.ObjectDoesNotExist):
        row = None  # a malformed id is as unknown as a missing one
    if row is None:
        raise NotFound(f"{what} not found")
    return row
