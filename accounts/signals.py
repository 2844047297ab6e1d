"""Signals the accounts app sends for the layers above to act on.

``sessions_revoked``: every session of one user has just ended (log out everywhere, password change, password reset).
Sent after the transaction that ended them commits, with ``user_id`` (the user's primary key) and ``reason`` (one of
the ``REASON_*`` values below). From that moment on the user's earlier JWTs are refused (``User.tokens_valid_after``)
and their refresh tokens are blacklisted; receivers close whatever the user still has open (realtime closes the user's
WebSockets and SSE streams).

``signed_in``: a login succeeded (password, and the two-factor code when 2FA is on), with ``user`` and ``request``
(may be None). Receivers must not raise (they are told, the login goes on regardless): notifications remembers the
devices an account signs in from and announces a new one.
"""

from django.dispatch import Signal

REASON_LOGOUT_EVERYWHERE = "logout_everywhere"
REASON_PASSWORD_CHANGED = "password_changed"
REASON_PASSWORD_RESET = "password_reset"

sessions_revoked = Signal()  # kwargs: user_id, reason
signed_in = Signal()  # kwargs: user, request
