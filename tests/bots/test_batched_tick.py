"""The batched group tick (bots.engine.tick_group): constant queries however many bots, one decision per distinct
(strategy, params), row locks only for the bots with something to do, and the same result as the per-bot tick."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bots import engine
from bots.models import Bot
from bots.services import create_bot
from bots.strategies import Signal, get_strategy
from tests.bots.test_dcagrid import DCA_PARAMS
from tests.bots.test_engine import BUY, scaled
from tests.equities import NY_CLOSED, US, clock, stock_platforms  # noqa: F401
from trading.models import Order

# Flat candles: no strategy sees an entry on them.
FLAT = scaled([[i * 60_000, 100, 100.5, 99.5, 100, 10] for i in range(30)], 12000)


def make_bots(make_user, count, strategy="momentum", params=None, per_user=2):
    bots = []
    owner = None
    for i in range(count):
        if i % per_user == 0:
            owner = make_user()
        bot = create_bot(
            owner,
            name=f"bot{i}",
            exchange="luno",
            initial_capital=Decimal("1000"),
            strategy=strategy,
            params=params,
        )
        bots.append(bot)
    Bot.objects.filter(pk__in=[bot.pk for bot in bots]).update(status="active")
    return [str(bot.pk) for bot in bots]


def group_tick(ids, candles, monkeypatch):
    monkeypatch.setattr(engine, "candles_for", lambda *args: candles)
    with CaptureQueriesContext(connection) as queries:
        counts = engine.tick_group("luno", "BTC/ZAR", "1m", ids)
    return counts, queries.captured_queries


@pytest.mark.django_db
def test_queries_do_not_grow_with_the_number_of_bots(make_user, monkeypatch):
    few = make_bots(make_user, 2)
    many = make_bots(make_user, 12)
    group_tick(few, FLAT, monkeypatch)  # warms what is cached for every group alike (the system state)
    counts_few, queries_few = group_tick(few, FLAT, monkeypatch)
    counts_many, queries_many = group_tick(many, FLAT, monkeypatch)
    assert counts_few == {"ok": 2} and counts_many == {"ok": 12}
    assert len(queries_many) == len(queries_few), [q["sql"][:120] for q in queries_many]
    # A tick without a signal locks no row.
    assert not [q for q in queries_many if "FOR UPDATE" in q["sql"]]
    for bot in Bot.objects.filter(pk__in=many):
        assert bot.last_tick_at is not None and bot.last_decision == "no_signal"


@pytest.mark.django_db
def test_each_distinct_strategy_and_params_is_decided_once(make_user, monkeypatch):
    ids = make_bots(make_user, 6) + make_bots(make_user, 3, params={"fast": 7, "slow": 30})
    decided = []
    real = engine.get_strategy

    def spy(name):
        strategy = real(name)
        decide = strategy.decide

        def counting(candles, position=None, params=None, risk_mode="balanced"):
            decided.append((name, tuple(sorted((params or {}).items()))))
            return decide(candles, position, params, risk_mode)

        strategy.decide = counting
        return strategy

    monkeypatch.setattr(engine, "get_strategy", spy)
    counts, _ = group_tick(ids, FLAT, monkeypatch)
    assert counts == {"ok": 9}
    assert len(decided) == 2 and len(set(decided)) == 2


class BuyWhenFast7:
    """Buys on the last candle (position or not) for bots whose params say fast=7; sees nothing for the others."""

    def decide(self, candles, position, params, risk_mode):
        if (params or {}).get("fast") == 7:
            return Signal("buy", float(candles[-1][4]), None, None, 0.6, "scripted buy", int(candles[-1][0]))
        return None


@pytest.mark.django_db
def test_only_the_bots_with_a_signal_are_locked_and_trade_exactly_once(make_user, monkeypatch):
    quiet = make_bots(make_user, 5)
    acting = make_bots(make_user, 1, params={"fast": 7, "slow": 30})
    monkeypatch.setattr(engine, "get_strategy", lambda name: BuyWhenFast7())
    counts, queries = group_tick(quiet + acting, BUY, monkeypatch)
    assert counts == {"ok": 5, "traded": 1}
    bot_locks = [q for q in queries if 'FROM "bots_bot"' in q["sql"] and "FOR UPDATE" in q["sql"]]
    if connection.vendor == "postgresql":  # SQLite has no row locks (Django leaves FOR UPDATE out)
        locked = "\n".join(q["sql"] for q in bot_locks).replace("-", "")
        assert bot_locks and acting[0].replace("-", "") in locked  # the bot acting (its tick, then its fill)
        assert not [bot_id for bot_id in quiet if bot_id.replace("-", "") in locked]
    assert Order.objects.filter(bot_id=acting[0]).count() == 1
    assert not Order.objects.filter(bot_id__in=quiet).exists()
    # The same candle again (a retried or duplicated group task): nothing is placed twice.
    counts, _ = group_tick(quiet + acting, BUY, monkeypatch)
    assert Order.objects.filter(bot_id=acting[0]).count() == 1
    assert Bot.objects.get(pk=acting[0]).last_decision == "position_open"


@pytest.mark.django_db
def test_a_quiet_tick_writes_what_the_per_bot_tick_writes(make_user, monkeypatch):
    batched, single = make_bots(make_user, 2, per_user=1)
    group_tick([batched], FLAT, monkeypatch)
    assert engine.tick_bot(single, FLAT) == "ok"
    a, b = Bot.objects.get(pk=batched), Bot.objects.get(pk=single)
    fields = ("status", "last_decision", "last_decision_reason", "risk_block", "failure_count", "last_error")
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert a.next_tick_at - a.last_tick_at == b.next_tick_at - b.last_tick_at
    assert a.last_decision_at == a.last_tick_at and a.last_signal == b.last_signal


@pytest.mark.django_db
def test_a_risk_limit_shows_on_quiet_bots_as_on_the_per_bot_tick(make_user, monkeypatch):
    from django.core.cache import cache

    from accounts.models import UserConfig
    from accounts.selectors import config_cache_key
    from bots import risk

    ids = make_bots(make_user, 3)  # two bots of one owner, one of another
    owner = Bot.objects.get(pk=ids[0]).user
    UserConfig.objects.create(user=owner, section="risk", values={"max_exposure": "100"})
    cache.delete(config_cache_key(owner.pk, "risk"))  # what control.services does on a write
    monkeypatch.setattr(risk, "exposure", lambda user_id, quote: Decimal("250"))
    engine.tick_bot(ids[0], FLAT)  # the per-bot tick's reason
    expected = Bot.objects.get(pk=ids[0]).risk_block
    assert expected.startswith("Maximum exposure reached")
    counts, _ = group_tick(ids, FLAT, monkeypatch)
    assert counts == {"ok": 3}
    blocks = {str(bot.pk): bot.risk_block for bot in Bot.objects.filter(pk__in=ids)}
    assert blocks == {ids[0]: expected, ids[1]: expected, ids[2]: ""}


@pytest.mark.django_db
def test_the_quiet_update_never_touches_a_bot_paused_meanwhile(make_user):
    (bot_id,) = make_bots(make_user, 1)
    bot = Bot.objects.get(pk=bot_id)
    since = bot.updated_at
    Bot.objects.filter(pk=bot_id).update(status="paused")  # the owner pauses it while the group decides
    engine._write_quiet([(bot, "")], since)
    bot.refresh_from_db()
    assert bot.status == "paused" and bot.last_tick_at is None and bot.last_decision == ""


@pytest.mark.django_db
def test_new_bots_take_the_locked_path_and_become_active(user, monkeypatch):
    bot = create_bot(user, name="New", exchange="luno", initial_capital=Decimal("1000"), strategy="momentum")
    counts, _ = group_tick([str(bot.pk)], FLAT, monkeypatch)
    assert counts == {"ok": 1}
    bot.refresh_from_db()
    assert bot.status == "active" and bot.last_decision == "no_signal"


def test_signals_share_one_decision_per_key():
    class Row:
        def __init__(self, strategy, params, risk_mode="balanced"):
            self.strategy, self.params, self.risk_mode = strategy, params, risk_mode

    signals = engine.Signals(FLAT)
    for params in ({}, {}, {"fast": 5}, {"slow": 20, "fast": 5}, {"fast": 5, "slow": 20}):
        signals.decide(Row("momentum", params), None)
    assert signals.computed == 3
    assert signals.decide(Row("momentum", {}), None) == get_strategy("momentum").decide(FLAT, None, {}, "balanced")


@pytest.mark.django_db
def test_the_owners_cached_bot_lists_show_the_batched_tick(make_user, monkeypatch, django_capture_on_commit_callbacks):
    from bots.selectors import bot_list

    ids = make_bots(make_user, 4)
    owner = Bot.objects.get(pk=ids[0]).user
    bot_list(owner)  # starts the version
    before = bot_list(owner)  # cached now
    assert {item["last_tick_at"] for item in before} == {None}
    with django_capture_on_commit_callbacks(execute=True):
        group_tick(ids, FLAT, monkeypatch)
    after = {item["id"]: item for item in bot_list(type(owner).objects.get(pk=owner.pk))}
    assert set(after) == set(ids[:2])
    assert all(item["last_tick_at"] and item["last_decision"] == "no_signal" for item in after.values())


def test_incr_or_set_many_counts_like_incr_or_set():
    from django.core.cache import cache

    from amarktai import cache as amarktai_cache

    amarktai_cache.incr_or_set_many(["t:a", "t:b"])
    amarktai_cache.incr_or_set_many(["t:a"])
    amarktai_cache.incr_or_set("t:b")
    assert cache.get("t:a") == 2 and cache.get("t:b") == 2


@pytest.mark.django_db
def test_a_closed_market_waits_in_one_update_as_on_the_per_bot_tick(make_user, monkeypatch, stock_platforms, clock):
    """A stock market outside its session: its active paper bots, whatever their strategy, record "market closed" in
    one UPDATE without a row lock, exactly what the per-bot tick writes; a bot whose owner has a resting paper order
    (match_open_orders may cancel a day order) still takes the per-bot path."""
    from trading.models import PaperOrder

    clock.set(NY_CLOSED)
    strategies = ("momentum", "breakout", "mean_reversion", "supertrend", "dca")
    waiting = []
    for i, strategy in enumerate(strategies * 3):
        owner = make_user()
        bot = create_bot(
            owner,
            name=f"s{i}",
            exchange=US.id,
            symbol="AAPL/USD",
            initial_capital=Decimal("10000"),
            strategy=strategy,
            params=DCA_PARAMS if strategy == "dca" else None,
        )
        waiting.append(str(bot.pk))
    Bot.objects.filter(pk__in=waiting).update(status="active")
    single, resting = waiting.pop(), waiting.pop()
    owner = Bot.objects.get(pk=resting).user
    PaperOrder.objects.create(
        user=owner, platform=US.id, client_order_id="rest1", symbol="AAPL/USD", side="buy", type="limit",
        amount=Decimal("1"), price=Decimal("1"),
    )  # fmt: skip
    monkeypatch.setattr(engine, "candles_for", lambda *args: FLAT)
    few = waiting[:2]
    engine.tick_group(US.id, "AAPL/USD", "1m", few)  # warms what is cached for every group alike
    Bot.objects.filter(pk__in=few).update(last_tick_at=None)
    with CaptureQueriesContext(connection) as queries_few:
        assert engine.tick_group(US.id, "AAPL/USD", "1m", few) == {"ok": 2}
    with CaptureQueriesContext(connection) as queries_many:
        assert engine.tick_group(US.id, "AAPL/USD", "1m", waiting) == {"ok": len(waiting)}
    assert len(queries_many) == len(queries_few), [q["sql"][:120] for q in queries_many]
    assert not [q for q in queries_many if "FOR UPDATE" in q["sql"]]
    with CaptureQueriesContext(connection) as queries:
        assert engine.tick_group(US.id, "AAPL/USD", "1m", [resting, waiting[0]]) == {"ok": 2}
    locks = [q["sql"].replace("-", "") for q in queries if 'FROM "bots_bot"' in q["sql"] and "FOR UPDATE" in q["sql"]]
    if connection.vendor == "postgresql":  # SQLite has no row locks (Django leaves FOR UPDATE out)
        assert len(locks) == 1 and resting.replace("-", "") in locks[0]  # only the owner with a resting order
    assert engine.tick_bot(single, FLAT) == "ok"  # the per-bot tick, for comparison
    expected = Bot.objects.get(pk=single)
    assert expected.last_decision == "market_closed" and "opens at 2026-11-30T14:30" in expected.last_decision_reason
    fields = ("status", "last_decision", "last_decision_reason", "risk_block", "failure_count", "last_error")
    for bot in Bot.objects.filter(pk__in=[*waiting, resting]):
        assert [getattr(bot, f) for f in fields] == [getattr(expected, f) for f in fields], bot.strategy
        assert bot.next_tick_at - bot.last_tick_at == expected.next_tick_at - expected.last_tick_at
        assert bot.last_decision_at == bot.last_tick_at and bot.last_signal is None
    assert not Order.objects.filter(bot_id__in=waiting).exists()
