"""One error schema for every failure on /api/.

Domain code raises ``AmarktaiError`` subclasses; DRF's own exceptions are mapped too. Every error body is
``{"success": false, "error": ..., "error_code": ..., "timestamp": ...}`` (validation errors add ``details``).
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from amarktai.utils import iso_now

logger = logging.getLogger(__name__)

AUTH_REQUIRED = "AUTH_REQUIRED"
AUTH_INVALID = "AUTH_INVALID"
VALIDATION_ERROR = "VALIDATION_ERROR"
NOT_FOUND = "NOT_FOUND"
PERMISSION_DENIED = "PERMISSION_DENIED"
RATE_LIMIT = "RATE_LIMIT"
PROVIDER_ERROR = "PROVIDER_ERROR"
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
CONFLICT = "CONFLICT"
BOT_LOCKED_BY_ADMIN = "BOT_LOCKED_BY_ADMIN"
POSITION_CLOSED = "POSITION_CLOSED"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
TRADING_HALTED = "TRADING_HALTED"
INTERNAL_ERROR = "INTERNAL_ERROR"
TOTP_REUSED = "TOTP_REUSED"
CSRF_FAILED = "CSRF_FAILED"


class AmarktaiError(Exception):
    """Base of the typed domain errors. Subclasses fix ``error_code`` and ``status``."""

    error_code = INTERNAL_ERROR
    status = 500
    default_message = "Internal server error"

    def __init__(self, message=None, *, details=None, retry_after=None):
        self.message = message or self.default_message
        self.details = details
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def headers(self):
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


class ValidationFailed(AmarktaiError):
    error_code, status, default_message = VALIDATION_ERROR, 400, "Validation failed"


class NotFound(AmarktaiError):
    error_code, status, default_message = NOT_FOUND, 404, "Not found"


def first_or_not_found(queryset, message):
    """The queryset's first row, or NotFound(message). Callers scope the queryset to the requesting user, so a foreign
    id is exactly as unknown as a missing one (404, never 403)."""
    row = queryset.first()
    if row is None:
        raise NotFound(message)
    return row


class PermissionDenied(AmarktaiError):
    error_code, status, default_message = PERMISSION_DENIED, 403, "Permission denied"


class AuthRequired(AmarktaiError):
    error_code, status, default_message = AUTH_REQUIRED, 401, "Authentication credentials were not provided"


class AuthInvalid(AmarktaiError):
    error_code, status, default_message = AUTH_INVALID, 401, "Invalid or expired credentials"


class TotpReused(AuthInvalid):
    """A two-factor code that was valid but has already been used (django-otp refuses replays): wait for the next."""

    error_code, default_message = TOTP_REUSED, "This code was already used; wait for the next one"

    def __init__(self, message=None, *, status=401, details=None):
        super().__init__(message, details=details)
        self.status = status  # 401 at login; 400 where the caller is signed in (a 401 there means "session over")


class CsrfFailed(PermissionDenied):
    """A request authenticated by the portal's refresh cookie without a valid CSRF token, or from another origin."""

    error_code, default_message = CSRF_FAILED, "CSRF check failed"


class RateLimited(AmarktaiError):
    error_code, status, default_message = RATE_LIMIT, 429, "Rate limit exceeded"


class ProviderError(AmarktaiError):
    error_code, status, default_message = PROVIDER_ERROR, 502, "Exchange provider error"


class InsufficientFunds(AmarktaiError):
    error_code, status, default_message = INSUFFICIENT_FUNDS, 400, "Insufficient funds"


class Conflict(AmarktaiError):
    error_code, status, default_message = CONFLICT, 409, "Conflict"


class BotLockedByAdmin(Conflict):
    """The owner tried to resume (or restart) a bot an administrator paused: only an administrator can release it."""

    error_code, default_message = BOT_LOCKED_BY_ADMIN, "This bot was paused by an administrator"


class PositionClosed(Conflict):
    """A close was asked for a position that is no longer open (already closed, or closed meanwhile)."""

    error_code, default_message = POSITION_CLOSED, "This position is already closed"


class PayloadTooLarge(AmarktaiError):
    error_code, status, default_message = PAYLOAD_TOO_LARGE, 413, "Request body too large"


class ServiceUnavailable(AmarktaiError):
    error_code, status, default_message = SERVICE_UNAVAILABLE, 503, "Service temporarily unavailable"


class TradingHalted(AmarktaiError):
    """Trading is stopped platform-wide (an admin's POST /api/system/stop): no new orders until it is started again."""

    error_code, status = TRADING_HALTED, 503
    default_message = "Trading is stopped platform-wide by an administrator; no new orders until it restarts"


def infrastructure_error(exc):
    """A ServiceUnavailable for failures of the database, Redis or the broker (they come back: clients should retry),
    else None."""
    from django.db import Error as DatabaseError

    kinds = [DatabaseError]
    try:
        import redis.exceptions

        kinds += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import kombu.exceptions

        kinds.append(kombu.exceptions.OperationalError)
    except ImportError:  # pragma: no cover
        pass
    from django.db import DataError, IntegrityError, ProgrammingError

    if isinstance(exc, (IntegrityError, DataError, ProgrammingError)):
        return None  # bugs or bad data, not an outage
    if isinstance(exc, tuple(kinds)):
        return ServiceUnavailable("A backing service is temporarily unavailable, please retry shortly", retry_after=5)
    return None


def error_body(message, error_code, details=None):
    body = {"success": False, "error": str(message), "error_code": error_code, "timestamp": iso_now()}
    if details:
        body["details"] = details
    return body


def error_response(message, error_code, status, details=None, headers=None):
    """A plain Django JsonResponse in the error schema (for middleware, consumers and non-DRF views)."""
    response = JsonResponse(error_body(message, error_code, details), status=status)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def _flatten(detail):
    """First human-readable message out of DRF's nested error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            message = _flatten(value)
            if key in ("non_field_errors", "detail"):
                return message
            return f"{key}: {message}"
        return "Validation failed"
    if isinstance(detail, (list, tuple)):
        return _flatten(detail[0]) if detail else "Validation failed"
    return str(detail)


def _details(detail):
    if isinstance(detail, dict):
        return {key: _details(value) for key, value in detail.items()}
    if isinstance(detail, (list, tuple)):
        return [_details(value) for value in detail]
    return str(detail)


_DRF_MAP = [
    (drf.NotAuthenticated, AUTH_REQUIRED),
    (InvalidToken, AUTH_INVALID),
    (drf.AuthenticationFailed, AUTH_INVALID),
    (drf.PermissionDenied, PERMISSION_DENIED),
    (drf.NotFound, NOT_FOUND),
    (drf.MethodNotAllowed, METHOD_NOT_ALLOWED),
    (drf.UnsupportedMediaType, UNSUPPORTED_MEDIA_TYPE),
    (drf.NotAcceptable, VALIDATION_ERROR),
    (drf.Throttled, RATE_LIMIT),
    (drf.ParseError, VALIDATION_ERROR),
    (drf.ValidationError, VALIDATION_ERROR),
]


def exception_handler(exc, context):
    """DRF exception handler: every exception becomes the contract's error schema."""
    if isinstance(exc, AmarktaiError):
        return Response(error_body(exc.message, exc.error_code, exc.details), status=exc.status, headers=exc.headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, TokenError):
        exc = InvalidToken(str(exc))
    if isinstance(exc, drf.APIException):
        code = next((c for klass, c in _DRF_MAP if isinstance(exc, klass)), INTERNAL_ERROR)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        detail = exc.detail
        if isinstance(exc, drf.Throttled):
            message = "Too many requests, try again later"
        elif isinstance(exc, InvalidToken):
            message = "Invalid or expired token"
        else:
            message = _flatten(detail)
        details = _details(detail) if isinstance(exc, drf.ValidationError) and isinstance(detail, dict) else None
        return Response(error_body(message, code, details), status=exc.status_code, headers=headers)
    outage = infrastructure_error(exc)
    if outage is not None:
        logger.warning("backing service unavailable: %s", exc.__class__.__name__)
        return Response(error_body(outage.message, outage.error_code), status=outage.status, headers=outage.headers)
    # Unknown exceptions: let the middleware log them and answer a clean 500.
    return None
