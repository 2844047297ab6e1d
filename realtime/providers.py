"""What the feeds and health endpoints need from the domain, without importing it.

realtime is the event bus: it sits below every domain app and knows no domain model. Domain apps register providers
here from their AppConfig.ready(), and realtime calls them by name:

- ``user_snapshot("overview", user_id)`` / ``user_snapshot("total_bots", user_id)`` / ``user_snapshot("bot_counts",
  user_id)``: the per-user figures the SSE feed and /api/system/status show (registered by bots), and
  ``user_snapshot("trading_state", user_id)``: {"system": the platform's trading switch, "user": "running"|"stopped"
  (the user's kill switch)} for /api/system/status (registered by bots).
- ``account_snapshot("owns", user_id, account_id)`` -> bool (whether the trading account is the user's) and
  ``account_snapshot("pnl", user_id, account_id)`` -> the account's pnl_update payload: the per-account SSE stream
  (``/api/realtime/events?account=<id>``) (registered by wallets).
- ``health_components()``: extra (name, check) pairs for /api/health/components, e.g. the exchanges (registered by
  trading). A check returns (ok, detail).
"""

from collections.abc import Callable
from typing import Any

_snapshots: dict[str, Callable[[Any], Any]] = {}
_health: dict[str, Callable[[], tuple[bool, dict]]] = {}


def register_user_snapshot(name: str, provider: Callable[[Any], Any]) -> None:
    _snapshots[name] = provider


def user_snapshot(name: str, user_id: Any) -> Any:
    try:
        provider = _snapshots[name]
    except KeyError:
        raise LookupError(f"no app registered the {name!r} snapshot") from None
    return provider(user_id)


_account_snapshots: dict[str, Callable[[Any, Any], Any]] = {}


def register_account_snapshot(name: str, provider: Callable[[Any, Any], Any]) -> None:
    _account_snapshots[name] = provider


def account_snapshot(name: str, user_id: Any, account_id: Any) -> Any:
    try:
        provider = _account_snapshots[name]
    except KeyError:
        raise LookupError(f"no app registered the {name!r} account snapshot") from None
    return provider(user_id, account_id)


def register_health_component(name: str, check: Callable[[], tuple[bool, dict]]) -> None:
    _health[name] = check


def health_components() -> list[tuple[str, Callable[[], tuple[bool, dict]]]]:
    return list(_health.items())
