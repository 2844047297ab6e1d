"""Fair scheduling of bot ticks (bots.scheduling): most overdue first, every bot sent within ceil(N / limit) rounds,
a lease so that a bot waiting in the queue is not sent again, the backoff rule on the engine's writes, and the
dispatcher's lag gauge.

A "round" is one dispatcher run (every BOT_TICK_SECONDS / 2). A "tick" is the UPDATE the engine makes after a successful
tick, done in bulk here so that tens of thousands of bots stay fast.
"""

import datetime as dt
import math
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client import REGISTRY

from bots import engine, scheduling
from bots.models import Bot
from tests.bots.test_strategies import candles_from

INTERVAL = 10.0
ROUND = dt.timedelta(seconds=INTERVAL / 2)
MARKETS = [
    ("luno", "BTC/ZAR"),
    ("luno", "ETH/ZAR"),
    ("binance", "BTC/USDT"),
    ("binance", "ETH/USDT"),
    ("kraken", "BTC/USD"),
]


@pytest.fixture(autouse=True)
def _interval(settings):
    settings.BOT_TICK_SECONDS = INTERVAL


def make_bots(user, count, *, next_tick_at=None, status="active", **fields):
    """`count` bots in bulk. next_tick_at: None (never ticked) or a function of the bot's index."""
    bots = []
    for i in range(count):
        exchange, symbol = MARKETS[i % len(MARKETS)]
        due = next_tick_at(i) if callable(next_tick_at) else next_tick_at
        bots.append(
            Bot(
                user=user,
                name=f"bot{i}",
                exchange=exchange,
                symbol=symbol,
                status=status,
                next_tick_at=due,
                initial_capital=Decimal("1000"),
                current_capital=Decimal("1000"),
                **fields,
            )
        )
    return Bot.objects.bulk_create(bots, batch_size=5000)


def tick(ids, now):
    """What a successful engine tick writes (bots.engine._tick), for many bots at once."""
    if ids:
        Bot.objects.filter(pk__in=ids).update(
            last_tick_at=now, failure_count=0, last_error="", next_tick_at=scheduling.next_tick_at(now, 0)
        )


def claimed(now):
    """One dispatcher round at `now`: the ids it sends (and leases)."""
    return [bot_id for ids in scheduling.claim_due_groups(now).values() for bot_id in ids]


def test_backoff_rule():
    now = timezone.now()
    assert scheduling.next_tick_at(now, 0) == now + dt.timedelta(seconds=9)
    assert scheduling.next_tick_at(now, 3) == now + dt.timedelta(seconds=72)
    assert scheduling.next_tick_at(now, 6) == scheduling.next_tick_at(now, 60) == now + dt.timedelta(seconds=576)


@pytest.mark.django_db
def test_more_bots_than_the_limit_are_all_sent_most_overdue_first(user, settings):
    """200 due bots, 50 per round: every bot is sent within ceil(200 / 50) = 4 rounds, in order of how overdue it is.
    (The old dispatcher sliced 50 arbitrary rows and then filtered them: once those had ticked, nothing was sent again
    and 150 bots never ticked.)"""
    settings.BOT_DISPATCH_LIMIT = 50
    start = timezone.now()
    # Bot i is overdue by i + 1 seconds (last_tick_at is set too, so the old last_tick_at rule sees them all due).
    bots = make_bots(
        user,
        200,
        next_tick_at=lambda i: start - dt.timedelta(seconds=i + 1),
        last_tick_at=start - dt.timedelta(seconds=60),
    )
    most_overdue_first = [str(bot.pk) for bot in reversed(bots)]
    sent_in = {}
    rounds = math.ceil(len(bots) / 50)
    for round_no in range(rounds):
        now = start + round_no * ROUND
        ids = claimed(now)
        assert len(ids) <= 50
        for bot_id in ids:
            sent_in.setdefault(bot_id, round_no)
        tick(ids, now)
    assert len(sent_in) == len(bots), f"{len(bots) - len(sent_in)} bots never sent in {rounds} rounds"
    assert [sent_in[bot_id] for bot_id in most_overdue_first] == [i // 50 for i in range(len(bots))]


@pytest.mark.django_db
def test_a_bot_waiting_in_the_queue_is_not_sent_again(user, settings):
    """The workers run each round's ticks only after the next round was dispatched. The lease keeps the queued bots out
    of that round, so its places go to the bots that have not been sent yet."""
    settings.BOT_DISPATCH_LIMIT = 50
    make_bots(user, 200)
    start = timezone.now()
    sends, queued = [], []
    for round_no in range(4):
        now = start + round_no * ROUND
        ids = claimed(now)
        tick(queued, now)  # the previous round's tasks run now
        queued = ids
        sends += ids
    assert len(sends) == len(set(sends)) == 200


@pytest.mark.django_db
def test_a_lease_never_hides_a_tick(user):
    """The tick after the dispatch writes the real due time (the lease is only a placeholder)."""
    (bot,) = make_bots(user, 1)
    now = timezone.now()
    assert claimed(now) == [str(bot.pk)]
    bot.refresh_from_db()
    assert bot.next_tick_at == now + dt.timedelta(seconds=INTERVAL)  # leased for one interval
    assert claimed(now + ROUND) == []
    tick([bot.pk], now + dt.timedelta(seconds=1))
    bot.refresh_from_db()
    assert bot.next_tick_at == now + dt.timedelta(seconds=10)  # 1 s + 9 s
    assert claimed(now + dt.timedelta(seconds=10)) == [str(bot.pk)]


@pytest.mark.django_db
def test_only_active_and_created_bots_are_due(user):
    past = timezone.now() - dt.timedelta(minutes=5)
    active, created = make_bots(user, 1, next_tick_at=past)[0], make_bots(user, 1, status="created")[0]
    make_bots(user, 1, next_tick_at=past, status="paused")
    make_bots(user, 1, next_tick_at=past, status="stopped")
    make_bots(user, 1, next_tick_at=timezone.now() + dt.timedelta(minutes=1))
    due = [bot_id for ids in scheduling.due_groups().values() for bot_id in ids]
    assert sorted(due) == sorted([str(active.pk), str(created.pk)])
    assert [bot_id for ids in scheduling.due_groups().values() for bot_id in ids] == due  # read only: no lease


@pytest.mark.django_db
def test_engine_writes_the_next_tick(user):
    """A tick sets next_tick_at one interval x 0.9 ahead; a failure backs off (interval x 2^failures x 0.9)."""
    from bots.services import create_bot

    bot = create_bot(user, name="Flat", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    assert engine.tick_bot(bot.pk, candles_from([100.0] * 30)) == "ok"  # flat market: no signal, no order
    bot.refresh_from_db()
    assert bot.next_tick_at == bot.last_tick_at + dt.timedelta(seconds=9)
    for failures in (1, 2):
        engine._record_failure(bot.pk, RuntimeError("exchange down"))
        bot.refresh_from_db()
        assert bot.failure_count == failures
        assert bot.next_tick_at == bot.last_tick_at + dt.timedelta(seconds=9 * 2**failures)


@pytest.mark.django_db
def test_dispatcher_publishes_its_lag(user, api_client, monkeypatch):
    """amarktai_bot_dispatch_lag_seconds: how long the most overdue active bot had waited when the round started."""
    from bots import tasks

    sent = []
    monkeypatch.setattr(tasks, "tick_group", SimpleNamespace(delay=lambda *args: sent.append(args)))
    now = timezone.now()
    make_bots(user, 1, next_tick_at=now - dt.timedelta(seconds=30))
    make_bots(user, 1, next_tick_at=now - dt.timedelta(seconds=12))
    make_bots(user, 1, next_tick_at=now + dt.timedelta(seconds=60))  # not due
    make_bots(user, 1, next_tick_at=now - dt.timedelta(seconds=300), status="paused")  # not scheduled
    assert tasks.dispatch_ticks() == 1 and len(sent[0][3]) == 2
    lag = REGISTRY.get_sample_value("amarktai_bot_dispatch_lag_seconds")
    assert 30 <= lag < 40
    text = api_client.get("/metrics").content.decode()
    assert "# TYPE amarktai_bot_dispatch_lag_seconds gauge" in text
    # The round leased what it sent: the next one finds nothing due, and the lag is 0.
    assert tasks.dispatch_ticks() == 0
    assert REGISTRY.get_sample_value("amarktai_bot_dispatch_lag_seconds") == 0


@pytest.mark.django_db
def test_lag_of_a_bot_that_never_ticked_counts_from_its_creation(user):
    now = timezone.now()
    make_bots(user, 1, created_at=now - dt.timedelta(seconds=20))
    make_bots(user, 1, next_tick_at=now - dt.timedelta(seconds=5))
    assert scheduling.dispatch_lag_seconds(now) == pytest.approx(20)
    assert scheduling.dispatch_lag_seconds(now - dt.timedelta(minutes=1)) == 0  # nothing due yet then


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="20,000 bots need PostgreSQL (CI runs the suite again with DATABASE_URL=postgres://...)",
)
@pytest.mark.django_db
def test_20000_bots_none_waits_more_than_two_rounds(user, settings):
    """20,000 active bots on a few markets. With 10,000 per round (less than the total) no due bot waits longer than two
    rounds; with room for all of them, every bot is sent once per interval."""
    start = timezone.now()
    bots = make_bots(user, 20_000)  # never ticked: due from the start
    ids = [str(bot.pk) for bot in bots]

    settings.BOT_DISPATCH_LIMIT = 10_000
    due_since = dict.fromkeys(ids, start)
    sends = dict.fromkeys(ids, 0)
    worst = dt.timedelta(0)
    for round_no in range(6):
        now = start + round_no * ROUND
        assert scheduling.dispatch_lag_seconds(now) <= 2 * ROUND.total_seconds()
        sent = claimed(now)
        assert len(sent) <= 10_000
        for bot_id in sent:
            worst = max(worst, now - due_since[bot_id])
            due_since[bot_id] = scheduling.next_tick_at(now, 0)
            sends[bot_id] += 1
        tick(sent, now)
        sent_now = set(sent)
        waiting = [bot_id for bot_id, since in due_since.items() if since <= now and bot_id not in sent_now]
        assert all(now - due_since[bot_id] < 2 * ROUND for bot_id in waiting)
    assert worst <= 2 * ROUND, f"a bot waited {worst}"
    assert set(sends.values()) == {3}  # 6 rounds = 3 intervals: every bot ticked once in each

    settings.BOT_DISPATCH_LIMIT = 20_000  # capacity >= count: every bot every interval
    Bot.objects.update(next_tick_at=None)
    start = start + 6 * ROUND
    sent_in = {bot_id: [] for bot_id in ids}
    for round_no in range(5):
        now = start + round_no * ROUND
        sent = claimed(now)
        for bot_id in sent:
            sent_in[bot_id].append(round_no)
        tick(sent, now)
    assert all(rounds == [0, 2, 4] for rounds in sent_in.values())


@pytest.mark.django_db
def test_a_resumed_bot_is_due_at_once_without_its_back_off(user):
    from bots.services import pause_bot, resume_bot

    bot = Bot.objects.create(
        user=user,
        name="Backed off",
        exchange="luno",
        symbol="BTC/ZAR",
        status="active",
        initial_capital=Decimal("1000"),
        current_capital=Decimal("1000"),
        failure_count=5,
        next_tick_at=timezone.now() + dt.timedelta(seconds=300),
    )
    assert str(bot.pk) not in scheduling.due_groups().get(("luno", "BTC/ZAR", "1m"), [])
    pause_bot(user, bot.pk)
    resume_bot(user, bot.pk)
    bot.refresh_from_db()
    assert bot.failure_count == 0 and bot.next_tick_at is None
    assert str(bot.pk) in scheduling.due_groups()[("luno", "BTC/ZAR", "1m")]
