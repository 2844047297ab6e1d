"""Turns every non-success response under /api/ that did not come from DRF into the error schema; refuses oversized
request bodies before they are read."""

import json
import logging

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from django.utils.functional import SimpleLazyObject, empty

from amarktai import errors

logger = logging.getLogger("amarktai.api")

_STATUS_CODES = {
    400: (errors.VALIDATION_ERROR, "Bad request"),
    401: (errors.AUTH_REQUIRED, "Authentication required"),
    403: (errors.PERMISSION_DENIED, "Permission denied"),
    404: (errors.NOT_FOUND, "Not found"),
    405: (errors.METHOD_NOT_ALLOWED, "Method not allowed"),
    413: (errors.PAYLOAD_TOO_LARGE, "Request body too large"),
    415: (errors.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    429: (errors.RATE_LIMIT, "Too many requests, try again later"),
    503: (errors.SERVICE_UNAVAILABLE, "Service temporarily unavailable"),
}


def _is_api(request):
    return request.path.startswith("/api/") and not request.path.startswith(("/api/docs", "/api/schema"))


def _already_schema(response):
    if "application/json" not in response.get("Content-Type", ""):
        return False
    try:
        body = json.loads(response.content)
    except (ValueError, AttributeError):
        return False
    return isinstance(body, dict) and body.get("success") is False and "error_code" in body


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not _is_api(request) or response.status_code < 400 or getattr(response, "streaming", False):
            return response
        if _already_schema(response):
            return response
        code, message = _STATUS_CODES.get(
            response.status_code,
            (errors.INTERNAL_ERROR, "Internal server error")
            if response.status_code >= 500
            else (errors.VALIDATION_ERROR, "Bad request"),
        )
        headers = {k: response[k] for k in ("Allow", "Retry-After", "WWW-Authenticate") if response.has_header(k)}
        return errors.error_response(message, code, response.status_code, headers=headers)

    def process_exception(self, request, exception):
        if not _is_api(request):
            return None
        if isinstance(exception, Http404):
            return errors.error_response("Not found", errors.NOT_FOUND, 404)
        if isinstance(exception, errors.AmarktaiError):
            return errors.error_response(
                exception.message, exception.error_code, exception.status, exception.details, headers=exception.headers
            )
        if isinstance(exception, RequestDataTooBig):
            return errors.error_response("Request body too large", errors.PAYLOAD_TOO_LARGE, 413)
        if isinstance(exception, SuspiciousOperation):
            # Malformed input Django refuses (too many fields, bad multipart, ...): the client's fault, one log line.
            logger.warning("bad request on %s %s: %s", request.method, request.path, exception.__class__.__name__)
            return errors.error_response("Bad request", errors.VALIDATION_ERROR, 400)
        outage = errors.infrastructure_error(exception)
        if outage is not None:
            logger.warning(
                "backing service unavailable on %s %s: %s", request.method, request.path, exception.__class__.__name__
            )
            return errors.error_response(outage.message, outage.error_code, outage.status, headers=outage.headers)
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return errors.error_response("Internal server error", errors.INTERNAL_ERROR, 500)


def _declared_length(request):
    """The Content-Length header as an int; None when absent; -1 when it is not a plain ASCII decimal (``int()``
    would also take "1_000", " 12" and other scripts' digits)."""
    value = request.META.get("CONTENT_LENGTH")
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()):
        return -1
    return int(value)


class BodySizeLimitMiddleware:
    """Refuses a request body larger than settings.API_MAX_BODY_BYTES with 413 PAYLOAD_TOO_LARGE, and a malformed
    Content-Length with 400, before anything reads the body (nginx.conf's client_max_body_size is the same limit in
    front). A body sent without a length is never parsed beyond the limit either: amarktai.parsers reads at most
    API_MAX_BODY_BYTES + 1 bytes. Near the outside of the chain, so the refusal costs no session, CSRF or auth work."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = _declared_length(request)
        if length is not None and length < 0:
            return errors.error_response("Invalid Content-Length header", errors.VALIDATION_ERROR, 400)
        if length is not None and length > settings.API_MAX_BODY_BYTES:
            return errors.error_response(
                f"Request body too large (at most {settings.API_MAX_BODY_BYTES} bytes)", errors.PAYLOAD_TOO_LARGE, 413
            )
        return self.get_response(request)


class SyncChainMiddleware:
    """Innermost on purpose, and synchronous only: it keeps Django's whole middleware chain synchronous under ASGI.

    Django builds the chain from the inside out and lets each middleware that can run either way follow the one inside
    it. Under Django's ASGIHandler the innermost handler is async, so without this every built-in middleware ran its
    async path and hopped to a worker thread and back for each process_request/process_response (about ten thread hops
    per request, 4 ms of a hello-world). With a sync-only middleware innermost, the chain runs in one hop. The ASGI
    server now runs amarktai.asgi_http, which loads the chain synchronously anyway; under WSGI it costs one call.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware, building the message storage only when something uses it.

    The stock middleware builds a FallbackStorage (a cookie storage with its signer, and a session storage) for every
    request and writes it back on the way out. Only the Django admin and its login pages add or show messages; the API,
    the hottest path, never does. Here the storage is a lazy object: the admin gets the same storage the moment it adds
    or reads a message, and a request that never touched it skips both the construction and the update.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
