"""The order-status poller: keeps the open live orders of every account in step with its exchange.

Beat runs ``trading.sync_open_orders`` every ORDER_POLL_SECONDS (the embedded scheduler does without Redis). A round:

1. ``plan_batches()`` reads, in one grouped query, every account holding open live orders (an account: the user's
   exchange credential the order was placed with, ``Order.account``; orders without one use the user's credential for
   the platform) with its least recently synced order, sets the poll-lag gauge per exchange, drops the accounts that
   are backing off, and cuts the rest (the least recently synced first, at most ORDER_POLL_MAX_ACCOUNTS) into batches of
   ORDER_POLL_BATCH_SIZE accounts; the task sends one ``trading.poll_order_batch`` task per batch.
2. ``poll_account(key)`` polls one account: one ``fetch_open_orders(symbol)`` per market it has open orders on; an
   order the exchange still lists open is brought in line from that row (a partial fill is booked), an order it no
   longer lists gets one ``fetch_order`` for its final state (filled, canceled, rejected). Every call goes through the
   adapter, so the exchange's rate limiter and circuit breaker (trading.exchanges.resilience) apply to the poller as to
   everything else; nothing here throttles on its own.
3. A failure (unreachable exchange, revoked keys, a rate limit) ends that account's poll and backs the account off:
   ORDER_POLL_BACKOFF_BASE_SECONDS, doubling per failure in a row up to ORDER_POLL_BACKOFF_MAX_SECONDS. The state lives
   in the Django cache (Redis in production), so every worker skips the account until it is due; a success clears it.
   Other accounts go on.

Status changes reach the owner as ``order_update`` events (trading.services.apply_exchange_state: filled, partially
filled, canceled, rejected; with the order's account) and fills are booked as every live fill is
(trading.services.record_fill: the Trade, the position, the bot's P&L). A retried or concurrent poll books nothing
twice: the order row is locked and the fill increment is what the exchange reports beyond what is already recorded.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Min, QuerySet
from django.utils import timezone

from realtime import events
from realtime.metrics import ORDER_POLL_LAG, ORDER_POLL_ORDER_LAG, ORDER_POLLS
from trading import services
from trading.models import Order, OrderStatus

logger = logging.getLogger(__name__)
NO_ACCOUNT = "-"  # orders placed before accounts were recorded: the user's credential for the platform
BACKOFF_PREFIX = "order-poll:backoff:"


@dataclass(frozen=True)
class AccountKey:
    """One account's open live orders: the owner, the platform and the credential (None: the user's default one)."""

    user_id: str
    exchange: str
    account_id: str | None

    def __str__(self) -> str:
        return f"{self.user_id}:{self.exchange}:{self.account_id or NO_ACCOUNT}"

    @classmethod
    def parse(cls, text: str) -> "AccountKey":
        user_id, exchange, account = text.split(":", 2)
        return cls(user_id, exchange, None if account == NO_ACCOUNT else account)


def open_live_orders() -> QuerySet[Order]:
    """Open live orders the exchange holds (a split order's parent holds nothing: its parts are polled)."""
    return Order.objects.filter(status=OrderStatus.OPEN, is_paper=False, children__isnull=True)


def account_orders(key: AccountKey) -> QuerySet[Order]:
    return open_live_orders().filter(user_id=key.user_id, exchange=key.exchange, account_id=key.account_id)


# --- back-off per account (in the cache: every worker sees it) ----------------------------------------------------
def _backoff_key(key: AccountKey | str) -> str:
    return f"{BACKOFF_PREFIX}{key}"


def backoff_state(key: AccountKey | str) -> dict | None:
    """{"failures", "until" (epoch seconds), "error"} of an account that failed lately, or None."""
    return cache.get(_backoff_key(key))


def backing_off(key: AccountKey | str, now: float | None = None) -> bool:
    state = backoff_state(key)
    return bool(state) and float(state["until"]) > (now if now is not None else time.time())


def backoff_delay(failures: int) -> float:
    """Seconds an account waits after ``failures`` failed polls in a row: the base, doubled per further failure, at
    most the maximum."""
    base, ceiling = float(settings.ORDER_POLL_BACKOFF_BASE_SECONDS), float(settings.ORDER_POLL_BACKOFF_MAX_SECONDS)
    return min(base * 2 ** max(failures - 1, 0), ceiling)


def record_failure(key: AccountKey | str, error: Exception) -> dict:
    previous = backoff_state(key) or {}
    failures = int(previous.get("failures", 0)) + 1
    delay = backoff_delay(failures)
    state = {"failures": failures, "until": time.time() + delay, "error": _reason(error)}
    # Kept past its end, so the next failure in a row doubles the wait; a success deletes it.
    cache.set(_backoff_key(key), state, timeout=int(delay + float(settings.ORDER_POLL_BACKOFF_MAX_SECONDS) * 2) + 60)
    return state


def clear_backoff(key: AccountKey | str) -> None:
    cache.delete(_backoff_key(key))


def _reason(error: Exception) -> str:
    """A short, secret-free reason: the domain errors' own messages never carry keys (the adapters see to that)."""
    return f"{error.__class__.__name__}: {str(error)[:200]}"


# --- one round -------------------------------------------------------------------------------------------------
def plan_batches(now: Any = None) -> list[list[str]]:
    """The accounts to poll this round, in batches (lists of AccountKey strings); sets the poll-lag gauge."""
    now = now or timezone.now()
    rows = (
        open_live_orders()
        .values("user_id", "exchange", "account_id")
        .annotate(oldest=Min("updated_at"))
        .order_by("oldest")
    )
    lag: dict[str, float] = {}
    due: list[str] = []
    clock = time.time()
    accounts = [
        (AccountKey(str(row["user_id"]), row["exchange"], str(row["account_id"]) if row["account_id"] else None), row)
        for row in rows
    ]
    waiting = cache.get_many([_backoff_key(key) for key, _ in accounts])  # one cache round trip for the round
    for key, row in accounts:
        age = max((now - row["oldest"]).total_seconds(), 0.0)
        lag[key.exchange] = max(lag.get(key.exchange, 0.0), age)
        state = waiting.get(_backoff_key(key))
        if state and float(state["until"]) > clock:
            ORDER_POLLS.labels(key.exchange, "backing_off").inc()
            continue
        if len(due) < settings.ORDER_POLL_MAX_ACCOUNTS:
            due.append(str(key))
    for exchange, seconds in lag.items():
        ORDER_POLL_LAG.labels(exchange).set(seconds)
    size = max(int(settings.ORDER_POLL_BATCH_SIZE), 1)
    return [due[start : start + size] for start in range(0, len(due), size)]


def poll_batch(keys: list[str]) -> int:
    """Poll each account of a batch; one account's failure never stops the others. Returns the orders synced."""
    synced = 0
    for key in keys:
        try:
            synced += poll_account(AccountKey.parse(key))
        except Exception:  # poll_account records its own failures; this is a bug's last guard
            logger.exception("order poll of account %s failed", key)
    return synced


def poll_account(key: AccountKey) -> int:
    """Sync one account's open live orders (see the module docstring). Returns how many orders were synced; 0 when
    the account is backing off. A failure backs the account off and is not raised."""
    if backing_off(key):
        ORDER_POLLS.labels(key.exchange, "backing_off").inc()
        return 0
    limit = int(settings.ORDER_POLL_MAX_ORDERS_PER_ACCOUNT)
    orders = list(account_orders(key).select_related("user", "account").order_by("updated_at")[:limit])
    if not orders:
        clear_backoff(key)
        return 0
    by_symbol: dict[str, list[Order]] = defaultdict(list)
    for order in orders:
        by_symbol[order.symbol].append(order)
    synced = 0
    try:
        exchange = services.order_exchange(orders[0])  # the account's keys (or the user's for the platform)
        for symbol, group in by_symbol.items():
            listed = exchange.fetch_open_orders(symbol)
            by_id = {str(row.get("id")): row for row in listed if row.get("id") is not None}
            by_cid = {row.get("client_order_id"): row for row in listed if row.get("client_order_id")}
            for order in group:
                ORDER_POLL_ORDER_LAG.observe(max((timezone.now() - order.updated_at).total_seconds(), 0.0))
                row = by_id.get(order.exchange_order_id) if order.exchange_order_id else None
                row = row or by_cid.get(order.client_order_id)
                if row is not None:
                    services.apply_polled_state(order, row)
                else:  # no longer open at the exchange: one lookup for how it ended
                    services.sync_order(order, exchange)
                synced += 1
    except Exception as exc:  # noqa: BLE001 - any failure backs this account off; the others go on
        state = record_failure(key, exc)
        ORDER_POLLS.labels(key.exchange, "error").inc()
        if state["failures"] == 1:  # the first failure of a streak: tell the owner once, not on every retry
            _alert(orders[0], exc, state)
        logger.warning(
            "order poll of account %s failed (%s); backing off %.0f s (failure %d in a row)",
            key,
            state["error"],
            state["until"] - time.time(),
            state["failures"],
        )
        return synced
    clear_backoff(key)
    ORDER_POLLS.labels(key.exchange, "ok").inc()
    return synced


def _alert(order: Order, error: Exception, state: dict) -> None:
    """An ``alert`` (kind "order_poll") to the owner: this account's orders cannot be synced now, and why."""
    account = order.account
    name = (account.label if account is not None and account.label else None) or order.exchange
    wait = max(int(state["until"] - time.time()), 1)
    events.publish(
        order.user_id,
        events.ALERT,
        {
            "level": "warning",
            "message": f"The status of your open orders on {name} cannot be read from {order.exchange} right now "
            f"({error.__class__.__name__}); retrying in {wait} s",
            "kind": "order_poll",
            "account_id": str(order.account_id) if order.account_id else None,
            "exchange": order.exchange,
        },
    )
