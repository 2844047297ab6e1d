"""Why a bot is (not) trading: the engine records every tick's decision and its reason on the bot, in the tick's one
UPDATE, and GET /api/bots/{id} combines it with the status and the failures into one answer ("activity")."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots import engine
from bots.models import Bot
from bots.services import create_bot, pause_bot
from bots.strategies import Signal
from tests.bots.test_engine import BUY, SELL, scaled
from tests.bots.test_strategies import candles_from
from trading import services as trading
from trading.models import Order

FLAT = scaled(candles_from([100.0] * 30), 12000)  # no crossing: momentum has nothing to say


@pytest.fixture
def bot(user):
    return create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")


class Scripted:
    """A strategy that says what the test tells it to."""

    def __init__(self, side, candle_ts=60_000, reason="scripted", confidence=0.5):
        self.signal = Signal(side, 1_200_000.0, None, None, confidence, reason, candle_ts)

    def decide(self, candles, position, params, risk_mode):
        return self.signal


def script(monkeypatch, side, **kwargs):
    strategy = Scripted(side, **kwargs)
    monkeypatch.setattr(engine, "get_strategy", lambda name: strategy)
    return strategy.signal


def decision_of(bot):
    bot.refresh_from_db()
    return bot.last_decision, bot.last_decision_reason


@pytest.mark.django_db
def test_traded_buy_then_sell_and_the_last_signal(bot):
    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "traded"
    code, reason = decision_of(bot)
    assert code == "traded_buy" and reason.startswith("Bought ") and "BTC/ZAR" in reason
    assert bot.last_decision_at is not None and bot.last_decision_at == bot.last_tick_at
    assert bot.last_signal["side"] == "buy" and bot.last_signal["reason"] and bot.last_signal["at"].endswith("Z")
    assert engine.tick_bot(bot.pk, scaled(SELL, 12000)) == "traded"
    code, reason = decision_of(bot)
    assert code == "traded_sell" and reason.startswith("Sold ")
    assert bot.last_signal["side"] == "sell"


@pytest.mark.django_db
def test_no_signal_keeps_the_last_signal(bot):
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    engine.tick_bot(bot.pk, FLAT)
    code, reason = decision_of(bot)
    assert code == "no_signal" and "momentum" in reason
    assert bot.last_signal["side"] == "buy"  # the last signal there was, not erased by a quiet tick


@pytest.mark.django_db
def test_position_open(bot, monkeypatch):
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    script(monkeypatch, "buy", candle_ts=999_000)  # a strategy that wants in again while in
    assert engine.tick_bot(bot.pk, FLAT) == "ok"
    code, reason = decision_of(bot)
    assert code == "position_open" and "position" in reason


@pytest.mark.django_db
def test_no_position_to_sell(bot, monkeypatch):
    script(monkeypatch, "sell")
    assert engine.tick_bot(bot.pk, FLAT) == "ok"
    code, reason = decision_of(bot)
    assert code == "no_position_to_sell" and "no open position" in reason
    assert bot.last_signal["side"] == "sell" and bot.last_signal["reason"] == "scripted"


@pytest.mark.django_db
def test_a_signal_without_a_finite_confidence_is_stored_json_safe(bot, monkeypatch):
    script(monkeypatch, "sell", confidence=float("nan"))
    engine.tick_bot(bot.pk, FLAT)
    bot.refresh_from_db()
    assert bot.last_signal["confidence"] is None and bot.last_signal["price"] == 1_200_000.0


@pytest.mark.django_db
def test_already_placed(bot, monkeypatch):
    signal = script(monkeypatch, "buy", candle_ts=120_000)
    Order.objects.create(
        user=bot.user,
        bot=bot,
        exchange="luno",
        symbol="BTC/ZAR",
        side="buy",
        type="market",
        amount=Decimal("0.001"),
        status="canceled",
        client_order_id=trading.client_order_id(bot.pk, signal.candle_ts, "buy"),
    )
    assert engine.tick_bot(bot.pk, FLAT) == "ok"
    code, reason = decision_of(bot)
    assert code == "already_placed" and "already placed" in reason
    assert Order.objects.filter(bot=bot).count() == 1


@pytest.mark.django_db
def test_below_min_size(user):
    tiny = create_bot(user, name="Tiny", exchange="luno", initial_capital=Decimal("1"), strategy="momentum")
    assert engine.tick_bot(tiny.pk, scaled(BUY, 12000)) == "ok"
    code, reason = decision_of(tiny)
    assert code == "below_min_size" and "minimum" in reason
    assert not Order.objects.filter(bot=tiny).exists()


@pytest.mark.django_db
def test_the_decision_is_written_by_the_ticks_one_update(bot):
    engine.tick_bot(bot.pk, FLAT)  # the first tick also activates the bot
    with CaptureQueriesContext(connection) as queries:
        engine.tick_bot(bot.pk, FLAT)
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "bots_bot"')]
    assert len(updates) == 1 and "last_decision" in updates[0]


@pytest.mark.django_db
def test_activity_answers_why_not_trading(auth_client, bot, monkeypatch, settings):
    url = f"/api/bots/{bot.pk}"
    activity = auth_client.get(url).json()["bot"]["activity"]
    assert activity["state"] == "waiting"

    engine.tick_bot(bot.pk, FLAT)
    detail = auth_client.get(url).json()["bot"]
    assert detail["activity"]["state"] == "no_signal" and "saw no entry or exit" in detail["activity"]["message"]
    assert detail["last_decision"] == "no_signal" and detail["next_tick_at"].endswith("Z")
    listed = auth_client.get("/api/bots").json()["bots"][0]
    assert listed["last_decision"] == "no_signal" and listed["last_decision_reason"] == detail["last_decision_reason"]

    # Failing ticks: backing off, with the error and when it tries again.
    from amarktai.errors import ProviderError

    settings.BOT_MAX_FAILURES = 3

    def broken(*args, **kwargs):
        raise ProviderError("luno: 503 Service Unavailable")

    monkeypatch.setattr(engine, "market_data", lambda exchange, source=None: type("M", (), {"fetch_ohlcv": broken})())
    engine.tick_group("luno", "BTC/ZAR", "1m", [str(bot.pk)])
    activity = auth_client.get(url).json()["bot"]["activity"]
    assert activity["state"] == "backing_off"
    assert (
        "1 failed tick" in activity["message"] and "503" in activity["message"] and "Next try at" in activity["message"]
    )
    assert Bot.objects.get(pk=bot.pk).next_tick_at > timezone.now()

    # Paused after too many failures: the status and the last error.
    engine.tick_group("luno", "BTC/ZAR", "1m", [str(bot.pk)])
    engine.tick_group("luno", "BTC/ZAR", "1m", [str(bot.pk)])
    activity = auth_client.get(url).json()["bot"]["activity"]
    assert activity["state"] == "paused" and "503" in activity["message"]


@pytest.mark.django_db
def test_paused_by_the_user(auth_client, bot, user):
    pause_bot(user, bot.pk)
    activity = auth_client.get(f"/api/bots/{bot.pk}").json()["bot"]["activity"]
    assert activity == {**activity, "state": "paused", "message": "Resume it to trade again."}


@pytest.mark.django_db
def test_the_detail_shows_the_parameters_it_trades_with(auth_client, user):
    bot = create_bot(
        user,
        name="Params",
        exchange="luno",
        initial_capital=Decimal("1000"),
        strategy="momentum",
        risk_mode="safe",
        params={"fast": 3},
    )
    params = auth_client.get(f"/api/bots/{bot.pk}").json()["bot"]["effective_params"]
    assert params == {
        "fast": 3,
        "slow": 20,
        "min_roc": 0.0,
        "position_pct": 0.1,
        "stop_loss_pct": 0.01,
        "take_profit_pct": 0.02,
    }
