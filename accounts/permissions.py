"""What each credential may do (``request.auth`` is an accounts.authentication.Credential).

- A password session (a JWT from login) may do everything its user may.
- An API key may do what its scopes allow (``KeyScope``, in REST_FRAMEWORK's DEFAULT_PERMISSION_CLASSES): ``read`` for
  GET/HEAD/OPTIONS, ``trade`` for every other method.
- Whatever could take the account over (exchange credentials, 2FA, API keys, the password, sessions, the system mode)
  needs a password session (``RequiresPasswordSession``, or ``PasswordSessionForChanges`` where reading stays open to a
  ``read`` key): a stolen API key must not be able to make itself permanent, lock the owner out or go live.

Views that need a password session use ``PASSWORD_SESSION`` (or ``PASSWORD_SESSION_FOR_CHANGES``) as their
``permission_classes``.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from accounts.models import ApiKeyScope
from amarktai.errors import PermissionDenied


def _credential(request):
    return getattr(request, "auth", None)


def _is_api_key(request):
    credential = _credential(request)
    return credential is not None and not getattr(credential, "is_password_session", False)


class KeyScope(BasePermission):
    """An API key needs ``read`` to read and ``trade`` to change anything. A password session passes."""

    def has_permission(self, request, view):
        if not _is_api_key(request):
            return True
        scope = ApiKeyScope.READ if request.method in SAFE_METHODS else ApiKeyScope.TRADE
        if not _credential(request).allows(scope):
            raise PermissionDenied(
                f"This API key lacks the '{scope}' scope",
                details={"required_scope": [str(scope)]},
            )
        return True


class RequiresPasswordSession(BasePermission):
    """Only a password session (a JWT from login), never an API key, whatever its scopes."""

    def applies(self, request):
        return True

    def has_permission(self, request, view):
        if self.applies(request) and _is_api_key(request):
            raise PermissionDenied(
                "This action needs a password login (a token from /api/auth/login); API keys cannot do it",
                details={"credential": ["password session required"]},
            )
        return True


class PasswordSessionForChanges(RequiresPasswordSession):
    """Reading is open to an API key with ``read`` (KeyScope); every change needs a password session."""

    def applies(self, request):
        return request.method not in SAFE_METHODS


class ReadOnlyQuery(KeyScope):
    """For a POST that only reads (a search whose filters travel in the body, e.g. POST /api/signals/filter): the
    ``read`` scope suffices, as for a GET."""

    def has_permission(self, request, view):
        if _is_api_key(request) and not _credential(request).allows(ApiKeyScope.READ):
            raise PermissionDenied(
                f"This API key lacks the '{ApiKeyScope.READ}' scope",
                details={"required_scope": [str(ApiKeyScope.READ)]},
            )
        return True


DEFAULT = [IsAuthenticated, KeyScope]
READ_ONLY_QUERY = [IsAuthenticated, ReadOnlyQuery]
PASSWORD_SESSION = [*DEFAULT, RequiresPasswordSession]
PASSWORD_SESSION_FOR_CHANGES = [*DEFAULT, PasswordSessionForChanges]
