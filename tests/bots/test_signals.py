"""Strategy signals: the engine stores every decision once (traded or not) and publishes it; /api/signals lists, filters
and pages them per user; old ones are pruned; the hot query runs on an index."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from bots import engine, services
from bots.models import StrategySignal
from bots.services import create_bot
from bots.strategies import Signal
from tests.bots.test_engine import BUY, SELL, scaled
from tests.helpers import assert_error
from trading.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(user):
    return create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")


@pytest.fixture
def published(monkeypatch):
    """The events services publish (on commit), as (user_id, type, payload)."""
    from realtime import events

    sent = []
    monkeypatch.setattr(events, "_send", lambda user_id, kind, payload: sent.append((user_id, kind, payload)))
    return sent


def make_signal(user, bot=None, *, minutes_ago=0, **fields):
    defaults = {
        "bot": bot,
        "bot_name": bot.name if bot else "Gone",
        "exchange": "luno",
        "symbol": "BTC/ZAR",
        "strategy": "momentum",
        "trading_mode": "paper",
        "side": "buy",
        "entry_price": Decimal("1200000"),
        "confidence": Decimal("60"),
        "reason": "test",
        "outcome": "traded",
        "candle_ts": 0,
        "created_at": timezone.now() - timedelta(minutes=minutes_ago),
    }
    defaults.update(fields)
    return StrategySignal.objects.create(user=user, **defaults)


# --- recording -----------------------------------------------------------------------------------------------------


def test_a_traded_decision_is_stored_once_and_published(bot, published, django_capture_on_commit_callbacks):
    candles = scaled(BUY, 12000)
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.tick_bot(bot.pk, candles) == "traded"
        assert engine.tick_bot(bot.pk, candles) == "ok"  # the same candle again: the same decision, not a new one
    signal = StrategySignal.objects.get()
    assert (signal.user_id, signal.bot_id, signal.side, signal.outcome) == (bot.user_id, bot.pk, "buy", "traded")
    assert (signal.exchange, signal.symbol, signal.strategy, signal.bot_name) == (
        "luno",
        "BTC/ZAR",
        "momentum",
        "Alpha",
    )
    assert Decimal("50") <= signal.confidence <= Decimal("100")
    assert signal.target > signal.entry_price > signal.stop_loss
    assert signal.candle_ts == int(candles[-1][0]) and "crossed above" in signal.reason
    assert Order.objects.filter(bot=bot).count() == 1
    kinds = [(user_id, kind) for user_id, kind, _ in published if kind == "signal"]
    assert kinds == [(bot.user_id, "signal")]
    payload = next(p for _, kind, p in published if kind == "signal")
    assert payload["id"] == str(signal.pk) and payload["signal"] == "BUY" and payload["outcome"] == "traded"


def test_closing_decision_is_stored_with_its_own_confidence(bot):
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    engine.tick_bot(bot.pk, scaled(SELL, 12000))
    buy, sell = StrategySignal.objects.order_by("created_at")
    assert (buy.side, sell.side) == ("buy", "sell") and sell.outcome == "traded"
    assert sell.target is None and sell.stop_loss is None
    # The sell came from the EMA cross-down (not a risk exit, which would be 100 %): 50-100 % from the EMA gap.
    assert (
        Decimal("50") <= sell.confidence < Decimal("100") or "stop loss" in sell.reason or "take profit" in sell.reason
    )


def test_an_untraded_decision_is_stored_as_skipped(user):
    tiny = create_bot(user, name="Tiny", exchange="luno", initial_capital=Decimal("5"), strategy="momentum")
    assert engine.tick_bot(tiny.pk, scaled(BUY, 12000)) == "ok"  # 20 % of R5 buys less than the market's minimum
    assert not Order.objects.filter(bot=tiny).exists()
    assert StrategySignal.objects.get(bot=tiny).outcome == "skipped"
    engine.tick_bot(tiny.pk, scaled(BUY, 12000))
    assert StrategySignal.objects.filter(bot=tiny).count() == 1


class BuyAlways:
    def decide(self, candles, position, params, risk_mode):
        return Signal("buy", float(candles[-1][4]), None, None, 0.42, "buy whatever", int(candles[-1][0]))


def test_a_buy_while_a_position_is_open_is_not_actionable(bot, monkeypatch):
    engine.tick_bot(bot.pk, scaled(BUY, 12000))  # opens the position
    later = [[row[0] + 60_000, *row[1:]] for row in scaled(BUY, 12000)]
    monkeypatch.setattr(engine, "get_strategy", lambda name: BuyAlways())
    engine.tick_bot(bot.pk, later)
    signal = StrategySignal.objects.get(reason="buy whatever")
    assert signal.outcome == "not_actionable" and signal.confidence == Decimal("42.00")
    assert Order.objects.filter(bot=bot).count() == 1


def test_ticks_without_a_signal_never_touch_the_signal_table(bot):
    flat = scaled([[i * 60_000, 100, 100.5, 99.5, 100, 10] for i in range(30)], 12000)
    with CaptureQueriesContext(connection) as queries:
        assert engine.tick_bot(bot.pk, flat) == "ok"
    assert not [q for q in queries.captured_queries if "strategysignal" in q["sql"].lower()]


def test_a_signal_outlives_its_bot(bot, auth_client):
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    services.delete_bot(bot.user, bot.pk)
    signal = StrategySignal.objects.get()
    assert signal.bot_id is None and signal.bot_name == "Alpha"
    assert auth_client.get(f"/api/signals/{signal.pk}").json()["signal"]["bot_id"] is None


# --- the API -------------------------------------------------------------------------------------------------------


def test_list_detail_and_other_users(user, other_user, auth_client, other_client):
    mine = make_signal(user, symbol="ETH/ZAR")
    theirs = make_signal(other_user)
    body = auth_client.get("/api/signals").json()
    assert body["success"] is True and body["count"] == 1 and body["next_cursor"] is None
    item = body["signals"][0]
    assert item["id"] == str(mine.pk) and item["symbol"] == "ETH/ZAR" and item["signal"] == "BUY"
    expected = {"entry_price", "target", "stop_loss", "confidence", "reason", "strategy", "bot_id", "timestamp"}
    assert expected <= set(item) and item["confidence"] == 60.0
    assert auth_client.get(f"/api/signals/{mine.pk}").json()["signal"]["id"] == str(mine.pk)
    assert_error(auth_client.get(f"/api/signals/{theirs.pk}"), 404, "NOT_FOUND")
    assert [s["id"] for s in other_client.get("/api/signals").json()["signals"]] == [str(theirs.pk)]


def test_filters(user, auth_client):
    a = make_signal(user, symbol="BTC/ZAR", strategy="momentum", side="buy", confidence=Decimal("80"), minutes_ago=30)
    b = make_signal(user, symbol="ETH/ZAR", strategy="breakout", side="sell", confidence=Decimal("55"), minutes_ago=20)
    c = make_signal(user, symbol="BTC/ZAR", strategy="breakout", side="sell", confidence=Decimal("95"), minutes_ago=10)

    def ids(**query):
        got = auth_client.post("/api/signals/filter", query, format="json").json()
        listed = auth_client.get("/api/signals", query).json()
        assert got["signals"] == listed["signals"]
        return [s["id"] for s in got["signals"]]

    assert ids() == [str(c.pk), str(b.pk), str(a.pk)]
    assert ids(symbol="btc/zar") == [str(c.pk), str(a.pk)]
    assert ids(strategy="breakout") == [str(c.pk), str(b.pk)]
    assert ids(side="buy") == [str(a.pk)]
    assert ids(min_confidence="80") == [str(c.pk), str(a.pk)]
    assert ids(side="sell", min_confidence=90) == [str(c.pk)]
    since = (timezone.now() - timedelta(minutes=25)).isoformat()
    until = (timezone.now() - timedelta(minutes=15)).isoformat()
    assert ids(since=since, until=until) == [str(b.pk)]
    assert ids(since=since) == [str(c.pk), str(b.pk)]


def test_cursor_pages_through_everything_once(user, auth_client):
    now = timezone.now()
    made = [make_signal(user, candle_ts=i, created_at=now - timedelta(seconds=i // 3)) for i in range(25)]  # ties
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        body = auth_client.get("/api/signals", query).json()
        seen += [s["id"] for s in body["signals"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 4 and len(seen) == 25 and set(seen) == {str(s.pk) for s in made}
    expected = sorted(made, key=lambda s: (s.created_at, s.pk.hex), reverse=True)
    assert seen == [str(s.pk) for s in expected]


def cursor_of(stamp):
    import base64
    import uuid

    return base64.urlsafe_b64encode(f"{stamp}|{uuid.uuid4().hex}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"side": "hold"}, "side"),
        ({"min_confidence": 101}, "min_confidence"),
        ({"min_confidence": -1}, "min_confidence"),
        ({"min_confidence": "lots"}, "min_confidence"),
        ({"min_confidence": True}, "min_confidence"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": cursor_of("9999-12-31T23:59:59-14:00")}, "cursor"),  # past year 9999 in UTC
        ({"cursor": cursor_of("0001-01-01T00:00:00+14:00")}, "cursor"),
        ({"cursor": cursor_of("2026-01-01T00:00:00")}, "cursor"),  # no time zone
        ({"since": "9999-12-31T23:59:59-14:00"}, "since"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"strategy": "astrology"}, "strategy"),
        ({"symbol": "BTC ZAR"}, "symbol"),
        ({"bot_id": "12"}, "bot_id"),
    ],
)
def test_bad_filters_are_field_errors(auth_client, body, field):
    for response in (
        auth_client.post("/api/signals/filter", body, format="json"),
        auth_client.get("/api/signals", body),
    ):
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert field in error["details"], error


def test_a_read_only_api_key_may_filter(user):
    from accounts.models import ApiKey

    make_signal(user)
    _key, raw = ApiKey.generate(user, "reader", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post("/api/signals/filter", {"side": "buy"}, format="json").json()["count"] == 1
    assert client.get("/api/signals").json()["count"] == 1


def test_anonymous_is_refused(api_client):
    assert_error(api_client.get("/api/signals"), 401, "AUTH_REQUIRED")
    assert_error(api_client.post("/api/signals/filter", {}, format="json"), 401, "AUTH_REQUIRED")


# --- bounded storage -----------------------------------------------------------------------------------------------


def test_prune_deletes_only_signals_past_retention(user, settings):
    settings.SIGNAL_RETENTION_DAYS = 30
    old = [make_signal(user, candle_ts=i, created_at=timezone.now() - timedelta(days=31)) for i in range(7)]
    kept = make_signal(user, candle_ts=99, created_at=timezone.now() - timedelta(days=29))
    assert services.prune_signals(batch=3) == len(old)  # several batches
    assert list(StrategySignal.objects.values_list("pk", flat=True)) == [kept.pk]
    settings.SIGNAL_RETENTION_DAYS = 0
    make_signal(user, candle_ts=100, created_at=timezone.now() - timedelta(days=3650))
    assert services.prune_signals() == 0 and StrategySignal.objects.count() == 2


def test_prune_task_runs_the_service(user, settings):
    from bots.tasks import prune_signals

    settings.SIGNAL_RETENTION_DAYS = 1
    make_signal(user, created_at=timezone.now() - timedelta(days=2))
    assert prune_signals() == 1 and not StrategySignal.objects.exists()


def _plan(sql, params):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return " ".join(str(row[-1]) for row in cursor.fetchall())
        # A test table is tiny and its statistics stale, so the planner may take any index and sort 60 rows: ask
        # instead whether an index *can* serve the filter and the order (with no sequential scan and no sort allowed,
        # a missing index shows up as a plan that still scans or sorts).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return " ".join(row[0] for row in cursor.fetchall())


def test_the_hot_queries_run_on_the_signal_indexes(user, other_user):
    from bots.selectors import signals_page, signals_queryset

    for owner in (user, other_user):
        for i in range(30):
            make_signal(owner, candle_ts=i, minutes_ago=i)
    first, last = signals_page(user, limit=10)
    assert len(first) == 10 and last == first[-1]
    cases = [
        ("signal_user_time", {}),
        ("signal_user_time", {"after": (last.created_at, last.id), "side": "buy", "min_confidence": Decimal("50")}),
        ("signal_user_symbol_time", {"symbol": "BTC/ZAR", "after": (last.created_at, last.id)}),
    ]
    for index, filters in cases:
        sql, params = signals_queryset(user, **filters)[:51].query.sql_with_params()
        plan = _plan(sql, params)
        assert index in plan, (filters, plan)
        assert "TEMP B-TREE" not in plan.upper() and "Sort" not in plan, plan  # the index gives the order: no sort


# --- confidence ----------------------------------------------------------------------------------------------------


def _walk(n=600, seed=7):
    import numpy as np

    rng = np.random.default_rng(seed)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    rows = []
    for i, close in enumerate(closes):
        prev = closes[i - 1] if i else close
        volume = float(rng.uniform(5, 30))
        rows.append([i * 60_000, prev, max(prev, close) * 1.002, min(prev, close) * 0.998, close, volume])
    return rows


@pytest.mark.parametrize("name", ["momentum", "breakout", "mean_reversion", "supertrend"])
def test_confidence_comes_from_the_indicator(name):
    """Over a random walk, every strategy's entries and (non-risk) exits carry a confidence in 0.5-1 that varies with
    the indicator (no constant stands in for it)."""
    from bots.strategies import get_strategy

    strategy = get_strategy(name)
    params = {"fast": 3, "slow": 8} if name == "momentum" else {"volume_threshold": 1.0} if name == "breakout" else {}
    candles = _walk()
    held = {"entry_price": 100.0}  # no stop loss or take profit: only the strategy's own exit can fire
    entries, exits = set(), set()
    for end in range(40, len(candles)):
        window = candles[end - 40 : end]
        buy = strategy.decide(window, None, params)
        sell = strategy.decide(window, held, params)
        if buy is not None:
            entries.add(buy.confidence)
        if sell is not None:
            exits.add(sell.confidence)
    for found in (entries, exits):
        assert len(found) >= 2, (name, found)
        assert all(0.5 <= c <= 1.0 for c in found), (name, found)


def test_risk_exits_are_certain():
    from bots.strategies import get_strategy

    candles = scaled(BUY, 1)
    stopped = get_strategy("momentum").decide(candles, {"entry_price": 200.0, "stop_loss": 150.0})
    assert stopped.side == "sell" and stopped.confidence == 1.0 and "stop loss" in stopped.reason
