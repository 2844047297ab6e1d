"""Keyset (cursor) pagination over (created_at, id), newest first or oldest first.

A page after a cursor is one range scan of an index on (..., created_at, id), however deep it is: no OFFSET that
reads and throws away every earlier row. The cursor is opaque to clients: the position (time and id) of the last row
of the previous page, base64url-encoded.
"""

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet


def encode(created_at: datetime, row_id: Any) -> str:
    """The opaque cursor that continues after the row at (created_at, row_id)."""
    hex_id = row_id.hex if isinstance(row_id, uuid.UUID) else uuid.UUID(str(row_id)).hex
    raw = f"{created_at.isoformat()}|{hex_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    """(created_at, id) of a cursor from ``encode``; ValueError when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        stamp, _, hex_id = raw.partition("|")
        created_at = datetime.fromisoformat(stamp)
        row_id = uuid.UUID(hex=hex_id)
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        created_at = created_at.astimezone(UTC)  # OverflowError past year 9999 or before year 1
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise ValueError("not a cursor from this list") from exc
    return created_at, row_id


def after(
    rows: QuerySet, position: tuple[datetime, Any], *, newest_first: bool = True, field: str = "created_at"
) -> QuerySet:
    """``rows`` past ``position`` in the order (field, id) (descending when ``newest_first``). The plain bound on
    ``field`` delimits the index range; the OR only looks at rows of that very instant."""
    stamp, row_id = position
    if newest_first:
        return rows.filter(**{f"{field}__lte": stamp}).filter(Q(**{f"{field}__lt": stamp}) | Q(id__lt=row_id))
    return rows.filter(**{f"{field}__gte": stamp}).filter(Q(**{f"{field}__gt": stamp}) | Q(id__gt=row_id))


def page(rows: QuerySet, limit: int, *, field: str = "created_at") -> tuple[list, str | None]:
    """Up to ``limit`` rows of an ordered queryset (models, or dicts from ``values()`` holding ``field`` and "id"), and
    the cursor of the next page (None on the last page)."""
    found = list(rows[: limit + 1])
    if len(found) > limit:
        last = found[limit - 1]
        if isinstance(last, dict):
            return found[:limit], encode(last[field], last["id"])
        return found[:limit], encode(getattr(last, field), last.pk)
    return found, None
