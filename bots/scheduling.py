"""When each bot ticks next, and which bots one dispatcher round sends: the most overdue first.

The rule. Every bot row carries next_tick_at. The engine writes it after each tick: now + interval x 0.9 after a
success, now + interval x 2^failures x 0.9 after a failure (exponential backoff, capped at 64x). A null next_tick_at
means "due now" (a bot that never ticked). The 0.9 makes a bot ticked just after a round due again one interval later,
not one interval and a round later. A dispatcher round (every BOT_TICK_SECONDS / 2: Celery beat, or bots.scheduler
without Redis) takes the active and created bots whose next_tick_at is null or past, ORDER BY next_tick_at NULLS FIRST,
at most BOT_DISPATCH_LIMIT of them. next_tick_at has no index on purpose: every tick writes it twice (the lease below,
then the tick), and an indexed column would make each of those row writes touch every index of bots_bot instead of
updating the row in place (a HOT update, bots.models). The due query reads the table instead (~20 ms at 20,000 bots,
once per round).

Fairness. The order is by due time, and a bot that is sent gets a later due time. So a bot left out of a round is more
overdue than every bot that was sent, and it goes before them in the next round. With N due bots and a limit of L, every
bot is sent within ceil(N / L) rounds. When L >= N, every active bot is sent once per interval. The old dispatcher took
an unordered slice of 5,000 rows and only then checked which were due, so the bots outside that slice could starve
forever.

The lease (claim_due_groups, used by the dispatcher). In the same transaction as the selection, and before any task is
sent, next_tick_at of the selected bots moves forward by one interval. The tick then writes the real value. Ticks are
idempotent (row lock and unique client order id), so orders stay correct without a lease. Fairness and throughput need
it, though. Rounds run every half interval, and a bot whose tick_group task is still in the queue at the next round
would still be the most overdue. It would be sent again and take the places of the bots behind it: the same starvation,
one queue further on. The queue would also grow by the whole backlog every round, just when the workers are behind. One
interval gives a queued task time to run, and a lost task (for example a broker restart) costs its bots only one
interval. The lease is a plain QuerySet.update: next_tick_at is in no cached payload, so the owners' cached bot lists
stay valid and updated_at does not change. The selection uses SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL). A bot
being ticked right now (its row is locked) is skipped, the dispatcher never waits for a slow exchange call, and two
overlapping rounds never send the same bot.

Lag. dispatch_lag_seconds gives how long the most overdue due bot has waited, measured when the round starts (a bot that
never ticked counts from its creation). The dispatcher publishes it as amarktai_bot_dispatch_lag_seconds. When healthy
it is at most about one round (BOT_TICK_SECONDS / 2). If it grows, the workers or BOT_DISPATCH_LIMIT cannot keep up.
Bots waiting in the queue are leased, so a worker backlog shows up in the lag when their leases run out, one interval
later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from bots.models import Bot, BotStatus
from bots.strategies import WEBHOOK_STRATEGIES

Market = tuple[str, str, str]  # (exchange, symbol, timeframe)
Groups = dict[Market, list[str]]

SCHEDULED_STATUSES = (BotStatus.ACTIVE, BotStatus.CREATED)
MAX_BACKOFF_EXPONENT = 6  # a failing bot waits at most 64 intervals
EARLY = 0.9  # due slightly before a full interval, so a round's jitter never costs a whole extra round


def interval_seconds() -> float:
    return float(settings.BOT_TICK_SECONDS)


def next_tick_at(now: dt.datetime, failures: int) -> dt.datetime:
    """When a bot ticked at `now` with `failures` failed ticks in a row is due again."""
    wait = interval_seconds() * (2 ** min(max(failures, 0), MAX_BACKOFF_EXPONENT)) * EARLY
    return now + dt.timedelta(seconds=wait)


def dispatch_limit(limit: int | None = None) -> int:
    return int(settings.BOT_DISPATCH_LIMIT if limit is None else limit)


def due_bots(now: dt.datetime) -> models.QuerySet:
    """Active and created bots whose tick is due at `now` (never ticked, or next_tick_at reached); never an
    admin-locked one, never a signal bot (it trades on its webhook's alerts, bots.webhooks)."""
    return Bot.objects.filter(
        Q(next_tick_at__isnull=True) | Q(next_tick_at__lte=now), status__in=SCHEDULED_STATUSES, paused_by_admin=False
    ).exclude(strategy__in=WEBHOOK_STRATEGIES)


def _most_overdue(queryset: models.QuerySet, limit: int) -> models.QuerySet:
    return queryset.order_by(F("next_tick_at").asc(nulls_first=True)).values_list(
        "id", "exchange", "symbol", "timeframe"
    )[:limit]


def _grouped(rows: Iterable[tuple]) -> Groups:
    groups: Groups = {}
    for bot_id, exchange, symbol, timeframe in rows:
        groups.setdefault((exchange, symbol, timeframe), []).append(str(bot_id))
    return groups


def due_groups(now: dt.datetime | None = None, limit: int | None = None) -> Groups:
    """The most overdue due bots (at most `limit`, default BOT_DISPATCH_LIMIT), grouped by market, in due order.
    Read only. The dispatcher uses claim_due_groups, which also leases the bots it returns."""
    now = now or timezone.now()
    return _grouped(_most_overdue(due_bots(now), dispatch_limit(limit)))


def claim_due_groups(now: dt.datetime | None = None, limit: int | None = None) -> Groups:
    """due_groups for a dispatcher round. The returned bots are leased: their next_tick_at moves one interval forward
    (committed before the caller sends any task), so the next rounds skip them while their ticks wait in the queue."""
    now = now or timezone.now()
    lease_until = now + dt.timedelta(seconds=interval_seconds())
    with transaction.atomic():
        rows = list(_most_overdue(due_bots(now).select_for_update(skip_locked=True), dispatch_limit(limit)))
        ids = [row[0] for row in rows]
        # One UPDATE on PostgreSQL. SQLite allows only 999 parameters per query, so there it takes batches.
        batch = connection.features.max_query_params - 10 if connection.features.max_query_params else len(ids) or 1
        for start in range(0, len(ids), batch):
            # Still due: never overwrite the real value that a tick wrote in the meantime (SQLite has no row locks).
            # Plain QuerySet.update: no cache invalidation and no updated_at change (see the module docstring).
            models.QuerySet.update(due_bots(now).filter(pk__in=ids[start : start + batch]), next_tick_at=lease_until)
    return _grouped(rows)


def dispatch_lag_seconds(now: dt.datetime | None = None) -> float:
    """How long (seconds) the most overdue due bot has waited at `now`, 0 if none is due. A bot that never ticked counts
    from its creation. One aggregate over the due rows (the same filter as due_groups)."""
    now = now or timezone.now()
    oldest = due_bots(now).aggregate(
        scheduled=Min("next_tick_at"), created=Min("created_at", filter=Q(next_tick_at__isnull=True))
    )
    since = [value for value in oldest.values() if value is not None]
    return max((now - min(since)).total_seconds(), 0.0) if since else 0.0
