"""Safe retries for writes: the ``Idempotency-Key`` request header.

A client that timed out does not know whether its order or transfer went through. Sending the request again with the
same ``Idempotency-Key`` is safe:

- the same key with the same request (method, path and JSON body) returns the first answer again, status code and body
  alike, with ``Idempotent-Replayed: true``, and does nothing else;
- the same key with a different request is refused: 409 CONFLICT;
- two requests with the same key at the same moment never both run: the key's row (unique per user) is inserted before
  the write, in the write's own transaction, so the second insert waits for the first request to finish and then replays
  its answer (or, if the first failed and rolled back, runs);
- only successful (2xx) answers are kept. A failed request changed nothing (its transaction rolled back, the key's row
  with it), so retrying it with the same key simply tries again;
- keys are per user and kept for ``TTL`` (24 h); an older record is ignored and purged (every request with a key
  first deletes all expired records, in a statement of its own; ``purge_expired`` can also be run on its own).

Views opt in with ``@idempotent`` on the handler method, and document the header with ``IDEMPOTENCY_KEY_PARAMETER``.
"""

import functools
import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.models import IdempotencyRecord
from amarktai.errors import Conflict, ValidationFailed

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = timedelta(hours=24)
KEY_PATTERN = r"^[!-~]{1,255}$"  # 1-255 printable ASCII characters, no spaces (a UUID is a good choice)
_KEY = re.compile(r"[!-~]{1,255}")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    pattern=KEY_PATTERN,
    description=(
        "Makes the request safe to retry: the same key with the same body returns the first answer again (nothing is "
        "done twice); the same key with a different body is refused with 409. Keys are kept for 24 hours. Use a new "
        "random value (e.g. a UUID) for each new operation."
    ),
)


def body_hash(data: Any) -> str:
    """SHA-256 of the request body as canonical JSON (key order and spacing do not matter)."""
    if hasattr(data, "lists"):  # a QueryDict (form data): every value of every key
        data = dict(data.lists())
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def purge_expired() -> int:
    """Delete the records older than TTL (every user's); returns how many."""
    return IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - TTL).delete()[0]


def _claim(user: Any, key: str, method: str, path: str, digest: str) -> tuple[IdempotencyRecord, bool]:
    """(record, True) for a key new to this user, inserted (not yet answered) in the caller's transaction; (the finished
    record, False) for a key in use. A concurrent request with the same key holds the insert on the unique index until
    it has finished, so a record found here always has its answer. An expired record found here is replaced."""
    for _attempt in range(2):
        try:
            with transaction.atomic():
                fields = {"user": user, "key": key, "method": method, "path": path, "body_hash": digest}
                return IdempotencyRecord.objects.create(**fields), True
        except IntegrityError:
            record = IdempotencyRecord.objects.select_for_update().filter(user=user, key=key).first()
            if record is None:  # deleted by a purge meanwhile: insert again
                continue
            if record.created_at >= timezone.now() - TTL:
                return record, False
            record.delete()  # expired since the purge: ignored
    raise Conflict(f"This {HEADER} is in use by another request; retry", details={HEADER: ["in use"]})


def _replay(record: IdempotencyRecord) -> Response:
    return Response(record.response, status=record.status_code, headers={REPLAYED_HEADER: "true"})


def run_idempotent(request: Any, handler: Any) -> Response:
    """Run ``handler()`` (which returns a DRF Response) at most once per (user, Idempotency-Key)."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not _KEY.fullmatch(key):
        raise ValidationFailed(
            f"{HEADER} must be 1 to 255 printable ASCII characters without spaces",
            details={HEADER: ["invalid"]},
        )
    user = request.user
    method, path, digest = request.method.upper(), request.path[:255], body_hash(request.data)
    purge_expired()  # a statement of its own: no lock on other users' rows is held through this request
    with transaction.atomic():
        record, created = _claim(user, key, method, path, digest)
        if not created:
            if (record.method, record.path, record.body_hash) != (method, path, digest):
                raise Conflict(
                    f"This {HEADER} was already used for a different request; use a new key for a new operation",
                    details={HEADER: ["already used for a different request"]},
                )
            if record.status_code is None:  # not expected: answers are written in the transaction that inserts
                raise Conflict(f"The request with this {HEADER} has not finished; retry", details={HEADER: ["in use"]})
            return _replay(record)
        response = handler()
        if not 200 <= response.status_code < 300:
            transaction.set_rollback(True)  # nothing kept: a retry with this key tries again
            return response
        record.status_code = response.status_code
        record.response = json.loads(JSONRenderer().render(response.data))
        record.save(update_fields=["status_code", "response"])
    return response


def idempotent(method: Any) -> Any:
    """Decorate a view's handler method (``def post(self, request, ...)``) to honour the Idempotency-Key header."""

    @functools.wraps(method)
    def wrapper(view: Any, request: Any, *args: Any, **kwargs: Any) -> Response:
        return run_idempotent(request, lambda: method(view, request, *args, **kwargs))

    return wrapper
