"""POST/GET/DELETE /api/backtests: validation, tenancy, the concurrency cap and daily quota, cancellation, the
OHLCV cache shared by tenants, progress on the WebSocket, and bots ticking on time while backtests run."""

import time
from decimal import Decimal

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from bots import engine, scheduling
from bots.services import create_bot
from research import services
from research.models import Backtest, Candle
from tests.realtime.conftest import run, token_for, ws_connect, ws_receive

RANGE = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
BODY = {"strategy": "momentum", "exchange": "binance", "symbol": "BTC/USDT", "timeframe": "5m", **RANGE}


@pytest.fixture
def inline(monkeypatch):
    monkeypatch.setattr(services, "INLINE", True)


def post(client, django_capture_on_commit_callbacks, **over):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/api/backtests", {**BODY, **over}, format="json")


@pytest.mark.django_db
def test_create_run_list_detail(auth_client, inline, django_capture_on_commit_callbacks):
    r = post(auth_client, django_capture_on_commit_callbacks, initial_capital="2500", walk_forward=True, monte_carlo=50)
    assert r.status_code == 202, r.json()
    created = r.json()["backtest"]
    assert created["status"] == "queued" and created["fee_rate"] == 0.001  # Binance's paper taker fee by default
    detail = auth_client.get(f"/api/backtests/{created['id']}").json()["backtest"]
    assert detail["status"] == "done" and detail["progress"] == 1.0, detail["error"]
    result = detail["result"]
    assert result["candles"] == 288  # one day of 5-minute candles
    for key in (
        "total_return",
        "cagr",
        "max_drawdown",
        "sharpe",
        "sortino",
        "win_rate",
        "profit_factor",
        "exposure",
        "fees_paid",
        "buy_and_hold_return",
    ):
        assert key in result["metrics"]
    assert result["metrics"]["start_equity"] == 2500.0
    assert len(result["equity"]) == len(result["buy_and_hold"]) == len(result["drawdown"]) == 288
    assert set(result["walk_forward"]) >= {"in_sample", "out_of_sample", "split_ts"}
    assert result["monte_carlo"]["runs"] in (0, 50)
    listed = auth_client.get("/api/backtests").json()["backtests"]
    assert [b["id"] for b in listed] == [created["id"]]
    assert "result" not in listed[0] and listed[0]["metrics"] == result["metrics"]


@pytest.mark.django_db
def test_history_is_fetched_once_for_all_tenants(
    auth_client, other_client, inline, django_capture_on_commit_callbacks, monkeypatch
):
    from trading.exchanges import SimulatedMarketData

    calls = []
    original = SimulatedMarketData.fetch_ohlcv_since

    def counting(self, *args, **kwargs):
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SimulatedMarketData, "fetch_ohlcv_since", counting)
    post(auth_client, django_capture_on_commit_callbacks)
    assert len(calls) == 1 and Candle.objects.count() == 288
    r = post(other_client, django_capture_on_commit_callbacks, strategy="mean_reversion")
    assert len(calls) == 1  # the other tenant's backtest read the cache
    assert other_client.get(f"/api/backtests/{r.json()['backtest']['id']}").json()["backtest"]["status"] == "done"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "over, field",
    [
        ({"strategy": "astrology"}, "strategy"),
        ({"symbol": "DOGE/USDT"}, "symbol"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"initial_capital": "-5"}, "initial_capital"),
        ({"initial_capital": True}, "initial_capital"),
        ({"fee_rate": "0.5"}, "fee_rate"),
        ({"end": "2025-12-31T00:00:00Z"}, "end"),
        ({"days": 3}, "days"),
        ({"monte_carlo": 5000}, "monte_carlo"),
        ({"params": {"nope": 1}}, "params.nope"),
        ({"timeframe": "1m", "start": "2020-01-01T00:00:00Z"}, "start"),
    ],
)
def test_validation_names_the_field(auth_client, over, field):
    r = auth_client.post("/api/backtests", {**BODY, **over}, format="json")
    assert r.status_code == 400, r.json()
    body = r.json()
    assert body["success"] is False and body["error_code"] == "VALIDATION_ERROR"
    assert field in body["details"]


@pytest.mark.django_db
def test_another_users_backtest_is_404(auth_client, other_client, inline, django_capture_on_commit_callbacks):
    backtest_id = post(auth_client, django_capture_on_commit_callbacks).json()["backtest"]["id"]
    assert other_client.get(f"/api/backtests/{backtest_id}").status_code == 404
    assert other_client.delete(f"/api/backtests/{backtest_id}").status_code == 404
    assert other_client.get("/api/backtests").json()["backtests"] == []


@pytest.mark.django_db
def test_concurrency_cap_and_daily_quota(auth_client, user, settings):
    settings.BACKTEST_MAX_CONCURRENT = 2
    settings.BACKTEST_DAILY_QUOTA = 3
    # Not dispatched (no on_commit callbacks run): they stay queued, i.e. running for the cap.
    ids = [auth_client.post("/api/backtests", BODY, format="json").json()["backtest"]["id"] for _ in range(2)]
    r = auth_client.post("/api/backtests", BODY, format="json")
    assert r.status_code == 429 and r.json()["error_code"] == "RATE_LIMIT"
    assert "at most 2 at once" in r.json()["error"] and r.headers["Retry-After"]
    Backtest.objects.filter(pk=ids[0]).update(status="running")  # its worker died: it will never finish by itself
    assert auth_client.delete(f"/api/backtests/{ids[0]}").json()["backtest"]["cancel_requested"] is True
    assert auth_client.post("/api/backtests", BODY, format="json").status_code == 202  # the third of the day
    auth_client.delete(f"/api/backtests/{ids[1]}")
    r = auth_client.post("/api/backtests", BODY, format="json")
    assert r.status_code == 429 and "daily backtest quota of 3" in r.json()["error"]


@pytest.mark.django_db
def test_a_retried_post_with_the_same_idempotency_key_starts_one_run(auth_client):
    first = auth_client.post("/api/backtests", BODY, format="json", HTTP_IDEMPOTENCY_KEY="bt-retry-1")
    again = auth_client.post("/api/backtests", BODY, format="json", HTTP_IDEMPOTENCY_KEY="bt-retry-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["backtest"]["id"] == again.json()["backtest"]["id"]
    assert Backtest.objects.count() == 1


@pytest.mark.django_db
def test_delete_cancels_a_running_backtest(auth_client, user, monkeypatch):
    r = auth_client.post("/api/backtests", {**BODY, "timeframe": "1m"}, format="json")  # 1,440 candles
    backtest = Backtest.objects.get(pk=r.json()["backtest"]["id"])
    from research import backtest as runner

    real = runner.run_backtest

    def cancel_midway(*args, **kwargs):
        def progress(fraction):
            if fraction > 0.3:  # the owner cancels while it runs
                assert auth_client.delete(f"/api/backtests/{backtest.pk}").status_code == 200

        kwargs["chunk"] = 100
        kwargs["progress"] = progress
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "run_backtest", cancel_midway)
    assert services.run(str(backtest.pk)) == "canceled"
    backtest.refresh_from_db()
    assert backtest.status == "canceled" and backtest.cancel_requested and backtest.result is None
    # A finished backtest is not touched by DELETE.
    assert auth_client.delete(f"/api/backtests/{backtest.pk}").json()["backtest"]["status"] == "canceled"


@pytest.mark.django_db(transaction=True)
def test_progress_reaches_the_owner_on_the_websocket(user, monkeypatch):
    monkeypatch.setattr(services, "INLINE", True)
    from research.serializers import BacktestCreateSerializer

    def start():
        serializer = BacktestCreateSerializer(data={**BODY, "timeframe": "1m"})
        serializer.is_valid(raise_exception=True)
        return str(services.create_backtest(user, serializer.validated_data).pk)

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        backtest_id = await sync_to_async(start)()
        seen = []
        while True:
            message = await ws_receive(comm, timeout=10)
            if message["type"] != "backtest_progress":
                continue
            assert message["backtest_id"] == backtest_id
            seen.append((message["status"], message["progress"]))
            if message["status"] in ("done", "failed", "canceled"):
                break
        return seen

    seen = run(scenario)
    assert seen[0] == ("queued", 0.0) and seen[1][0] == "running" and seen[-1] == ("done", 1.0)
    progress = [p for status, p in seen if status == "running"]
    assert progress == sorted(progress) and len(progress) >= 5  # throttled: about every 5 %, never every candle
    assert len(progress) <= 25


def test_backtests_have_their_own_queue():
    from amarktai.celery import app

    router = app.amqp.router
    assert router.route({}, "research.run_backtest")["queue"].name == "research"
    assert router.route({}, "bots.tick_group")["queue"].name != "research"


@pytest.mark.django_db(transaction=True)
def test_bots_tick_on_time_while_backtests_run(user, settings):
    """Two heavy backtests run (the embedded research thread: a separate queue, off the web request) while a
    dispatcher round runs every half interval: the dispatch lag stays within its target and every bot keeps ticking."""
    settings.BOT_TICK_SECONDS = 2.0
    settings.BACKTEST_MAX_CONCURRENT = 5
    rng = np.random.default_rng(3)
    n = 40_000
    close = 65_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    first = 1_735_689_600_000  # 2025-01-01
    Candle.objects.bulk_create(
        [
            Candle(
                source="simulated",
                exchange="binance",
                symbol="BTC/USDT",
                timeframe="1m",
                ts=first + i * 60_000,
                open=c,
                high=c * 1.0004,
                low=c * 0.9996,
                close=c,
                volume=1.0,
            )
            for i, c in enumerate(close.tolist())
        ],
        batch_size=2000,
    )
    from research.serializers import BacktestCreateSerializer

    ids = []
    for strategy in ("momentum", "mean_reversion"):
        body = {**BODY, "strategy": strategy, "timeframe": "1m"}
        body.update(start="2025-01-01T00:00:00Z", end="2025-01-28T00:00:00Z")
        serializer = BacktestCreateSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        ids.append(services.create_backtest(user, serializer.validated_data).pk)  # autocommit: dispatched now
    bots = [
        create_bot(user, name=f"B{i}", exchange="binance", symbol="BTC/USDT", initial_capital=Decimal("1000"))
        for i in range(3)
    ]
    lags, overlapped = [], False
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        lags.append(scheduling.dispatch_lag_seconds())
        for (exchange, symbol, timeframe), bot_ids in scheduling.claim_due_groups().items():
            engine.tick_group(exchange, symbol, timeframe, bot_ids)
        overlapped = overlapped or Backtest.objects.filter(pk__in=ids, status="running").exists()
        time.sleep(settings.BOT_TICK_SECONDS / 2)
    assert overlapped, "the backtests should have been running while the bots ticked"
    assert max(lags) < settings.BOT_TICK_SECONDS, lags  # healthy: at most about one round (interval / 2)
    for bot in bots:
        bot.refresh_from_db()
        assert bot.last_tick_at is not None and bot.failure_count == 0
    # Let the research thread finish before the test database goes away.
    for _ in range(600):
        if not Backtest.objects.filter(pk__in=ids, status__in=("queued", "running")).exists():
            break
        time.sleep(0.1)
    else:
        Backtest.objects.filter(pk__in=ids).update(cancel_requested=True)
        time.sleep(2)
    connection.close()


@pytest.mark.django_db
def test_backtests_left_behind_by_a_restart_are_resumed_or_failed(auth_client, monkeypatch):
    """Embedded mode: after a restart nothing in this process runs the queued or running backtests any more."""
    ids = [auth_client.post("/api/backtests", BODY, format="json").json()["backtest"]["id"] for _ in range(2)]
    Backtest.objects.filter(pk=ids[1]).update(status="running")
    dispatched = []
    monkeypatch.setattr(services, "dispatch", dispatched.append)
    assert services.resume_orphans(min_age_seconds=0) == 2
    assert dispatched == [ids[0]]
    stale = Backtest.objects.get(pk=ids[1])
    assert stale.status == "failed" and "restart" in stale.error
