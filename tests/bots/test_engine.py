"""The engine: signals become orders exactly once, P&L with fees, failures pause the bot, deletion closes positions."""

import subprocess
import sys
import threading
from decimal import Decimal

import pytest
from django.db import connection

from bots import engine, scheduling
from bots.models import Bot
from bots.services import create_bot
from tests.bots.test_strategies import candles_from
from trading.models import Order, Position, Trade

# Momentum (5/20) crosses up on the last candle of BUY and down on the last candle of SELL.
BUY = candles_from([100.0] * 25 + [101.0])
SELL = candles_from([100.0] * 25 + [103.0, 104.0, 104.0, 96.0])


def scaled(candles, factor):
    return [[row[0], *(v * factor for v in row[1:5]), row[5]] for row in candles]


@pytest.fixture
def bot(user):
    created = create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    return created


@pytest.mark.django_db
def test_signal_becomes_one_order_and_a_position(bot):
    candles = scaled(BUY, 12000)  # BTC/ZAR around 1.2M
    assert engine.tick_bot(bot.pk, candles) == "traded"
    assert engine.tick_bot(bot.pk, candles) == "ok"  # same candle again: nothing new
    bot.refresh_from_db()
    assert bot.status == "active" and bot.last_tick_at is not None
    order = Order.objects.get(bot=bot)
    assert order.side == "buy" and order.status == "closed" and order.is_paper
    position = Position.objects.get(bot=bot, is_open=True)
    assert position.amount == order.filled
    # Balanced risk: 20 % of capital.
    assert Decimal("9000") < order.filled * order.average < Decimal("10100")
    trade = Trade.objects.get(bot=bot)
    assert trade.profit_loss == 0 and trade.fee > 0


@pytest.mark.django_db
def test_round_trip_pnl_includes_fees(bot):
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    engine.tick_bot(bot.pk, scaled(SELL, 12000))
    buy, sell = Trade.objects.filter(bot=bot).order_by("created_at")
    expected = (sell.price * sell.amount - sell.fee) - (buy.price * buy.amount + buy.fee)
    assert sell.side == "sell" and abs(sell.profit_loss - expected) < Decimal("0.0000001")
    bot.refresh_from_db()
    assert bot.total_profit == sell.profit_loss
    assert bot.current_capital == Decimal("50000") + sell.profit_loss
    assert not Position.objects.filter(bot=bot, is_open=True).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_place_exactly_one_order(user):
    bot = create_bot(user, name="Race", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    candles = scaled(BUY, 12000)
    outcomes = []

    def tick():
        try:
            outcomes.append(engine.tick_bot(bot.pk, candles))
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Order.objects.filter(bot=bot).count() == 1
    assert Trade.objects.filter(bot=bot).count() == 1
    assert outcomes.count("traded") == 1 and "error" not in outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_in_two_processes_postgres(user):
    if connection.vendor != "postgresql":
        pytest.skip("the multi-process variant needs PostgreSQL (SQLite serialises writers anyway)")
    bot = create_bot(user, name="Race", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    script = (
        "import django, os, sys; django.setup();"
        "from bots import engine; from tests.bots.test_engine import BUY, scaled;"
        f"print(engine.tick_bot('{bot.pk}', scaled(BUY, 12000)))"
    )
    env = {**__import__("os").environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "amarktai.settings_test"}
    procs = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].strip().splitlines()[-1] for p in procs]
    assert sorted(outputs) == ["ok", "traded"]
    assert Order.objects.filter(bot=bot).count() == 1 and Trade.objects.filter(bot=bot).count() == 1


@pytest.mark.django_db
def test_failing_exchange_pauses_bot_after_n_tries(bot, monkeypatch, settings, django_capture_on_commit_callbacks):
    from amarktai.errors import ProviderError

    settings.BOT_MAX_FAILURES = 3
    published = []
    monkeypatch.setattr("realtime.events._send", lambda user_id, kind, payload: published.append((kind, payload)))

    def broken(*args, **kwargs):
        raise ProviderError("binance: 503 Service Unavailable")

    monkeypatch.setattr(engine, "market_data", lambda exchange, source=None: type("M", (), {"fetch_ohlcv": broken})())
    with django_capture_on_commit_callbacks(execute=True):
        for attempt in range(1, 4):
            result = engine.tick_group("luno", "BTC/ZAR", "1m", [str(bot.pk)])
            assert result == {"error": 1}
            bot.refresh_from_db()
            assert bot.failure_count == attempt and "503" in bot.last_error
    assert bot.status == "paused"
    alerts = [p for kind, p in published if kind == "alert"]
    assert alerts and "paused after 3 failed ticks" in alerts[-1]["message"]
    # Backoff: a failing bot is not due again immediately.
    assert not any(str(bot.pk) in ids for ids in scheduling.due_groups().values())


@pytest.mark.django_db
def test_dispatcher_groups_by_market(user):
    a = create_bot(user, name="A", exchange="luno", initial_capital=Decimal("1000"))
    b = create_bot(user, name="B", exchange="luno", initial_capital=Decimal("1000"))
    c = create_bot(user, name="C", exchange="binance", initial_capital=Decimal("1000"))
    groups = scheduling.due_groups()
    assert sorted(groups[("luno", "BTC/ZAR", "1m")]) == sorted([str(a.pk), str(b.pk)])
    assert groups[("binance", "BTC/USDT", "1m")] == [str(c.pk)]
    from bots.tasks import dispatch_ticks

    assert dispatch_ticks() == 2  # one task per market; eager in tests
    assert Bot.objects.filter(status="active").count() == 3


@pytest.mark.django_db
def test_delete_closes_open_position(auth_client, user):
    bot = create_bot(user, name="Closer", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    assert Position.objects.filter(bot=bot, is_open=True).exists()
    assert auth_client.delete(f"/api/bots/{bot.pk}").status_code == 200
    closing = Trade.objects.filter(side="sell").get()
    assert closing.amount == Trade.objects.get(side="buy").amount
    assert not Position.objects.filter(is_open=True).exists()


@pytest.mark.django_db
def test_position_pct_parameter_sizes_orders(user):
    bot = create_bot(
        user,
        name="Sized",
        exchange="luno",
        initial_capital=Decimal("50000"),
        strategy="momentum",
        params={"position_pct": 0.05},
    )
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    order = Order.objects.get(bot=bot)
    assert Decimal("2400") < order.filled * order.average < Decimal("2530")  # 5 % of 50,000
