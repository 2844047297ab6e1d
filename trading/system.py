"""The platform-wide trading switch: while an admin has stopped the system, the engine starts no tick, the dispatcher
sends nothing and place_order() refuses every new order with TradingHalted (503 TRADING_HALTED). Cancelling orders
stays possible.

The state is one database row (trading.models.SystemState), so it survives restarts: a process started while the
system is stopped stays stopped. Readers go through ``current()``, cached in the Django cache for
``SYSTEM_STATE_CACHE_SECONDS``, so a tick pays a cache read, not a query. A change deletes the cached copy at once and
writes the new one when its transaction commits: with Redis every process sees it at that commit; at worst (a cache
write that failed) a process acts on the old state for SYSTEM_STATE_CACHE_SECONDS. A tick already running when the
system stops finishes (its own order is placed before the stop commits, or refused after it).
"""

from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from amarktai import cache
from amarktai.errors import TradingHalted
from amarktai.utils import iso
from trading.models import SystemState, SystemStatus

CACHE_KEY = "trading:system_state"


@dataclass(frozen=True)
class State:
    status: str
    reason: str
    changed_at: str | None
    changed_by: str
    restarts: int

    @property
    def stopped(self) -> bool:
        return self.status == SystemStatus.STOPPED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def public(self) -> dict[str, Any]:
        """What every user may see: all but who changed it (an admin's address)."""
        return {k: v for k, v in asdict(self).items() if k != "changed_by"}


def _state(row: SystemState | None) -> State:
    if row is None:
        return State(status=SystemStatus.RUNNING, reason="", changed_at=None, changed_by="", restarts=0)
    return State(
        status=row.status,
        reason=row.reason,
        changed_at=iso(row.changed_at),
        changed_by=row.changed_by,
        restarts=row.restarts,
    )


def _timeout() -> int:
    return int(settings.SYSTEM_STATE_CACHE_SECONDS)


def current() -> State:
    """The platform's trading state (cached: see the module docstring)."""
    cached = cache.get(CACHE_KEY)
    if isinstance(cached, dict):
        return State(**cached)
    state = _state(SystemState.objects.filter(pk=SystemState.SINGLETON).first())
    cache.set(CACHE_KEY, state.as_dict(), _timeout())
    return state


def trading_halted() -> bool:
    return current().stopped


def require_trading_open() -> None:
    """Raise TradingHalted while the system is stopped."""
    state = current()
    if state.stopped:
        message = TradingHalted.default_message + (f" ({state.reason})" if state.reason else "")
        raise TradingHalted(message, retry_after=30)


def set_state(status: str, *, actor_email: str = "", reason: str = "", restart: bool = False) -> State:
    """Write the platform's trading state (admins: control.services). Returns the new state."""
    with transaction.atomic():
        row, _ = SystemState.objects.select_for_update().get_or_create(pk=SystemState.SINGLETON)
        row.status = status
        row.reason = reason[:200]
        row.changed_at = timezone.now()
        row.changed_by = actor_email
        if restart:
            row.restarts += 1
        row.save()
        state = _state(row)
        cache.delete_many([CACHE_KEY])
        transaction.on_commit(lambda: cache.set(CACHE_KEY, state.as_dict(), _timeout()))
    return state
