"""The Supertrend exit: the maths against a hand-computed series and its properties (hypothesis), the service that
closes a position when the trend flips down on a new closed candle and not before (paper, and live against the fake
Binance with the real ccxt client), and the API (validation, tenancy, closed positions)."""

import time
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from bots import supertrend_exit
from bots.models import SupertrendExit
from bots.strategies import supertrend
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error
from trading import services as trading
from trading.models import Order, Position, Trade

MINUTE = 60_000


# --- the maths -----------------------------------------------------------------------------------------------------
def test_supertrend_matches_a_hand_computed_series():
    """period 3, multiplier 1. By hand: TR = 2, 2, 2, 2, 2.5, 2, 3.5; Wilder's ATR from candle 2: 2, 2, 13/6,
    19/9, 139/54; hl2 = 9, 10, 11, 10, 8, 7, 9. Bands (hl2 -/+ ATR) and their final (trailing) values:
    c2: up, line = lower 9 (upper 13);  c3: lower 8 < 9 and close 11 >= 9: stays 9, close 9.5 >= 9: up;
    c4: close 7.5 < 9: DOWN, line = final upper min(12, 10.1667) = 61/6;  c5: upper 9.1111 < 10.1667: 82/9, close
    6.5 <= it: down;  c6: upper 11.574 > 9.1111 and close 6.5 <= 9.1111: stays 82/9; close 9.8 > 82/9: UP, line =
    final lower: lower 9 - 139/54 = 347/54 (> the carried 4.8889)."""
    hlc = [(10, 8, 9), (11, 9, 10), (12, 10, 11), (11, 9, 9.5), (9, 7, 7.5), (8, 6, 6.5), (10, 8, 9.8)]
    data = np.array([[i * MINUTE, c, h, lo, c, 1] for i, (h, lo, c) in enumerate(hlc)], dtype=float)
    line, trend = supertrend(data, 3, 1.0)
    assert np.isnan(trend[:2]).all() and np.isnan(line[:2]).all()
    assert list(trend[2:]) == [1, 1, -1, -1, 1]
    assert line[2:] == pytest.approx([9, 9, 61 / 6, 82 / 9, 347 / 54])
    # What the service reads: the last closed candle, its trend and line.
    rows = [[int(r[0]), *r[1:]] for r in data]
    assert supertrend_exit.latest_trend(rows, 3, 1.0) == (6 * MINUTE, 1, pytest.approx(347 / 54))
    assert supertrend_exit.latest_trend(rows[:5], 3, 1.0) == (4 * MINUTE, -1, pytest.approx(61 / 6))
    assert supertrend_exit.latest_trend(rows[:3], 3, 1.0) is None  # too few candles for the period


@st.composite
def ohlc_series(draw):
    n = draw(st.integers(min_value=4, max_value=60))
    closes = draw(st.lists(st.floats(min_value=1, max_value=1000), min_size=n, max_size=n))
    rows, previous = [], closes[0]
    for i, close in enumerate(closes):
        up = draw(st.floats(min_value=0, max_value=50))
        down = draw(st.floats(min_value=0, max_value=50))
        high, low = max(previous, close) + up, max(min(previous, close) - down, 0.01)
        rows.append([i * MINUTE, previous, high, low, close, 1.0])
        previous = close
    return np.array(rows)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=ohlc_series(), period=st.integers(min_value=2, max_value=10), multiplier=st.floats(0.1, 6))
def test_supertrend_properties(data, period, multiplier):
    line, trend = supertrend(data, period, multiplier)
    start = period - 1
    if len(data) < period:
        assert np.isnan(trend).all()
        return
    assert np.isnan(trend[:start]).all() and set(trend[start:]) <= {1.0, -1.0}
    for i in range(start + 2, len(data)):
        # It trails: while the trend holds, the line only moves with it (up in an up trend, down in a down trend).
        if trend[i] == trend[i - 1] == 1:
            assert line[i] >= line[i - 1] - 1e-9
        if trend[i] == trend[i - 1] == -1:
            assert line[i] <= line[i - 1] + 1e-9
        # In an up trend the close is at or above the line; a flip down closes below the line it broke.
        if trend[i] == trend[i - 1] == 1:
            assert data[i, 4] >= line[i] - 1e-9
        if trend[i - 1] == 1 and trend[i] == -1:
            assert data[i, 4] < line[i - 1] + 1e-9 or data[i, 4] < (data[i, 2] + data[i, 3]) / 2
    # Causal: a later candle never changes an earlier value (the service acts on closed candles only).
    line_before, trend_before = supertrend(data[:-1], period, multiplier)
    assert np.array_equal(trend_before, trend[:-1], equal_nan=True)
    assert np.allclose(line_before, line[:-1], equal_nan=True)
    # Scale-free: prices times k give the same trends and the line times k. k is a power of two, so every sum, mean and
    # product scales exactly in floating point: with k = 3, flat candles whose close sits exactly on the line (ATR 0)
    # rounded to either side of it and flipped the trend (CI found one).
    scaled = data.copy()
    scaled[:, 1:5] *= 4.0
    line4, trend4 = supertrend(scaled, period, multiplier)
    assert np.array_equal(trend4, trend, equal_nan=True)
    assert np.allclose(line4, line * 4.0, equal_nan=True, rtol=1e-9)


def test_only_closed_candles_count():
    rows = [[t * MINUTE, 1, 1, 1, 1, 1] for t in range(10)]
    assert len(supertrend_exit.closed_candles(rows, "1m", 10 * MINUTE)) == 10
    assert len(supertrend_exit.closed_candles(rows, "1m", 10 * MINUTE - 1)) == 9  # the last one is still forming
    assert len(supertrend_exit.closed_candles(rows, "5m", 10 * MINUTE)) == 6


# --- candle series for the service ---------------------------------------------------------------------------------
def series(moves, start=100.0):
    """1-minute candles from relative close moves (0.01 = +1%), each candle's range 0.2% around open/close."""
    rows, price = [], start
    for i, move in enumerate(moves):
        close = price * (1 + move)
        rows.append([i * MINUTE, price, max(price, close) * 1.002, min(price, close) * 0.998, close, 10.0])
        price = close
    return rows


UP = [0.004] * 30
CRASH = [-0.08]
PERIOD, MULT = 10, Decimal("3")


def trend_of(rows):
    return supertrend_exit.latest_trend(rows, PERIOD, float(MULT))[1]


def test_the_series_flip_where_the_tests_expect():
    assert trend_of(series(UP)) == 1 and trend_of(series([*UP, 0.004])) == 1
    assert trend_of(series([*UP, 0.004, *CRASH])) == -1


class FakeCandles:
    """Serves the service's candle requests from a list the test extends (paper: the simulated feed's candles
    cannot be steered)."""

    def __init__(self, monkeypatch):
        self.rows = []
        self.calls = []
        monkeypatch.setattr(supertrend_exit, "_market_rows", self.fetch)

    def fetch(self, source, exchange, symbol, timeframe, limit):
        self.calls.append((source, exchange, symbol, timeframe))
        return self.rows[-limit:]

    def now(self):
        return (int(self.rows[-1][0]) + MINUTE) if self.rows else 0


def run(candles):
    return supertrend_exit.check_supertrend_exits(now_ms=candles.now())


@pytest.fixture
def paper_position(user):
    from django.db import transaction

    with transaction.atomic():
        trading.manual_order(user, exchange="luno", symbol="BTC/ZAR", side="buy", amount=Decimal("0.01"))
    return Position.objects.get(user=user, is_open=True)


@pytest.mark.django_db
def test_a_paper_position_is_closed_on_the_flip_and_not_before(user, auth_client, paper_position, monkeypatch):
    candles = FakeCandles(monkeypatch)
    r = auth_client.put(
        f"/api/positions/{paper_position.pk}/supertrend-exit",
        {"period": PERIOD, "multiplier": 3, "timeframe": "1m"},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["supertrend_exit"]["status"] == "waiting"

    candles.rows = series(UP)
    assert run(candles) == 0
    body = auth_client.get(f"/api/positions/{paper_position.pk}/supertrend-exit").json()["supertrend_exit"]
    assert body["status"] == "watching" and body["trend"] == "up" and body["line"] > 0
    assert candles.calls[-1] == ("simulated", "luno", "BTC/ZAR", "1m")
    assert run(candles) == 0  # no new candle: nothing evaluated again
    candles.rows = series([*UP, 0.004])
    assert run(candles) == 0
    assert not Order.objects.filter(side="sell").exists() and Position.objects.get(pk=paper_position.pk).is_open

    candles.rows = series([*UP, 0.004, *CRASH])
    assert run(candles) == 1
    sale = Order.objects.get(side="sell")
    assert sale.type == "market" and sale.amount == paper_position.amount and sale.is_paper
    assert "Supertrend(10, 3) on 1m flipped down" in sale.reason and "engine-side" in sale.reason
    position = Position.objects.get(pk=paper_position.pk)
    assert not position.is_open and Trade.objects.filter(side="sell", order=sale).count() == 1
    body = auth_client.get(f"/api/positions/{paper_position.pk}/supertrend-exit").json()["supertrend_exit"]
    assert body["status"] == "closed" and body["trend"] == "down" and body["close_order_id"] == str(sale.pk)
    assert body["triggered_at"] and "flipped down" in body["reason"]

    candles.rows = series([*UP, 0.004, *CRASH, -0.01])
    assert run(candles) == 0 and Order.objects.filter(side="sell").count() == 1  # never sold twice


@pytest.mark.django_db
def test_set_in_a_down_trend_it_waits_for_the_next_flip_down(user, paper_position, monkeypatch):
    candles = FakeCandles(monkeypatch)
    supertrend_exit.set_supertrend_exit(user, paper_position.pk, period=PERIOD, multiplier=MULT, timeframe="1m")
    down = UP + CRASH
    candles.rows = series(down)
    assert run(candles) == 0  # the first candle only records the trend: down
    assert SupertrendExit.objects.get().last_trend == -1
    candles.rows = series([*down, -0.01])
    assert run(candles) == 0
    recover = down + [-0.01] + [0.03] * 3
    candles.rows = series(recover)
    assert trend_of(candles.rows) == 1 and run(candles) == 0
    assert Position.objects.get(pk=paper_position.pk).is_open
    candles.rows = series([*recover, -0.15])
    assert trend_of(candles.rows) == -1 and run(candles) == 1
    assert not Position.objects.get(pk=paper_position.pk).is_open


@pytest.mark.django_db
def test_a_bot_position_books_the_bots_pnl_and_a_failed_sale_is_retried(user, monkeypatch):
    from bots import engine
    from bots.services import create_bot
    from tests.bots.test_engine import BUY, scaled

    bot = create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "traded"
    position = Position.objects.get(bot=bot, is_open=True)
    candles = FakeCandles(monkeypatch)
    row = supertrend_exit.set_supertrend_exit(user, position.pk, period=PERIOD, multiplier=MULT)[1]
    assert row.timeframe == bot.timeframe  # a bot's position watches the bot's candles by default
    candles.rows = series(UP)
    run(candles)
    candles.rows = series(UP + CRASH)

    def down(*args, **kwargs):
        raise RuntimeError("exchange unreachable")

    with monkeypatch.context() as m:
        m.setattr(supertrend_exit, "close_position_by_id", down)
        assert run(candles) == 0
    row.refresh_from_db()
    assert row.triggered_at and "sale failed" in row.last_error and Position.objects.get(pk=position.pk).is_open
    assert run(candles) == 1  # the next run places the sale
    sale = Order.objects.get(side="sell", bot=bot)
    bot.refresh_from_db()
    assert not Position.objects.get(pk=position.pk).is_open
    assert bot.total_profit == Trade.objects.get(order=sale).profit_loss


@pytest.mark.django_db
def test_a_bot_trading_a_group_is_closed_on_every_account(user, monkeypatch):
    """A bot trading an account group holds a position on each account; the exit set on one of them closes them all,
    each sold on its own account. Another position of the user (manual, on a third account) is left alone."""
    from django.db import transaction

    from bots.services import create_bot
    from trading.exchanges import get_exchange
    from wallets.services.accounts import create_account

    bot = create_bot(user, name="Grouped", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    accounts = [create_account(user, name=f"paper {i}", platform="luno") for i in range(3)]
    for i, account in enumerate(accounts):
        with transaction.atomic():
            trading.place_order(
                user,
                get_exchange(user, "luno", "paper", credential=account),
                symbol="BTC/ZAR",
                side="buy",
                type="market",
                amount=Decimal("0.01") * (i + 1),
                bot=bot if i < 2 else None,
                is_paper=True,
            )
    first, second = (Position.objects.get(account=a, is_open=True) for a in accounts[:2])
    manual = Position.objects.get(account=accounts[2], is_open=True)
    assert first.bot_id == second.bot_id == bot.pk and manual.bot_id is None
    assert supertrend_exit.group_positions(first) == [second] and supertrend_exit.group_positions(manual) == []

    candles = FakeCandles(monkeypatch)
    supertrend_exit.set_supertrend_exit(user, second.pk, period=PERIOD, multiplier=MULT, timeframe="1m")
    candles.rows = series(UP)
    assert run(candles) == 0
    candles.rows = series([*UP, *CRASH])
    assert run(candles) == 1
    sales = {o.account_id: o for o in Order.objects.filter(side="sell")}
    assert set(sales) == {accounts[0].pk, accounts[1].pk}
    for position in (first, second):
        held = position.amount
        position.refresh_from_db()
        sale = sales[position.account_id]
        assert not position.is_open and sale.amount == held and sale.status == "closed"
        assert sale.bot_id == bot.pk and "flipped down" in sale.reason
    assert Position.objects.get(pk=manual.pk).is_open
    assert SupertrendExit.objects.get().last_error == ""


@pytest.mark.django_db
def test_a_live_position_is_closed_on_the_exchange(user, binance_via_fake):
    """Live: the candles are the exchange's own (the fake's klines through ccxt), the sale is a real market order."""
    from django.db import transaction

    from trading.exchanges import get_exchange
    from wallets.services.credentials import create_credential

    fake = binance_via_fake
    fake.set_price("BTCUSDT", 50000)
    User.objects.filter(pk=user.pk).update(system_mode="live_trading", two_factor_enabled=True)
    user = User.objects.get(pk=user.pk)
    cred = create_credential(user, "binance", DEFAULT_KEY, DEFAULT_SECRET, label="live")
    with transaction.atomic():
        trading.place_order(
            user,
            get_exchange(user, "binance", "live", credential=cred),
            symbol="BTC/USDT",
            side="buy",
            type="market",
            amount=Decimal("0.01"),
            is_paper=False,
        )
    position = Position.objects.get(user=user, is_open=True)
    supertrend_exit.set_supertrend_exit(user, position.pk, period=PERIOD, multiplier=MULT, timeframe="1m")
    base = (int(time.time() * 1000) // MINUTE - 40) * MINUTE

    def serve(moves):
        fake.candles["BTCUSDT"] = [
            [base + i * MINUTE, *(Decimal(str(round(v, 6))) for v in row[1:])] for i, row in enumerate(series(moves))
        ]

    serve([*UP, 0.004])
    assert supertrend_exit.check_supertrend_exits() == 0
    assert SupertrendExit.objects.get().last_trend == 1
    serve([*UP, 0.004, *CRASH])
    sells = fake.count("POST", "/api/v3/order")
    assert supertrend_exit.check_supertrend_exits() == 1
    assert fake.count("POST", "/api/v3/order") == sells + 1
    sale = Order.objects.get(side="sell")
    assert not sale.is_paper and sale.status == "closed" and sale.exchange_order_id
    assert not Position.objects.get(pk=position.pk).is_open


# --- the API -------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,field",
    [
        ({"period": 1, "multiplier": 3}, "period"),
        ({"period": 99, "multiplier": 3}, "period"),
        ({"period": "1_0", "multiplier": 3}, "period"),
        ({"period": True, "multiplier": 3}, "period"),
        ({"period": 10.5, "multiplier": 3}, "period"),
        ({"period": 10, "multiplier": 0}, "multiplier"),
        ({"period": 10, "multiplier": 21}, "multiplier"),
        ({"period": 10, "multiplier": "NaN"}, "multiplier"),
        ({"period": 10, "multiplier": True}, "multiplier"),
        ({"period": 10, "multiplier": 3, "timeframe": "2m"}, "timeframe"),
        ({"multiplier": 3}, "period"),
        ({"period": 10}, "multiplier"),
    ],
)
def test_validation(auth_client, paper_position, body, field):
    r = auth_client.put(f"/api/positions/{paper_position.pk}/supertrend-exit", body, format="json")
    assert field in assert_error(r, 400, "VALIDATION_ERROR")["details"]
    assert not SupertrendExit.objects.exists()


@pytest.mark.django_db
def test_set_change_clear_and_tenancy(auth_client, other_client, paper_position):
    url = f"/api/positions/{paper_position.pk}/supertrend-exit"
    assert auth_client.get(url).json() == {"success": True, "supertrend_exit": None}
    body = auth_client.put(url, {"period": 7, "multiplier": 2.5}, format="json").json()["supertrend_exit"]
    assert (body["period"], body["multiplier"], body["timeframe"], body["status"]) == (7, 2.5, "1h", "waiting")
    assert body["position_id"] == str(paper_position.pk) and body["symbol"] == "BTC/ZAR"
    assert body["execution"] == "engine-side"
    # Another user: 404 on every method, and nothing of the owner's changes.
    for method, data in (("get", None), ("put", {"period": 3, "multiplier": 1}), ("delete", None)):
        assert_error(getattr(other_client, method)(url, data, format="json"), 404, "NOT_FOUND")
    row = SupertrendExit.objects.get()
    assert (row.period, row.multiplier) == (7, Decimal("2.5"))
    body = auth_client.put(url, {"period": 12, "multiplier": 3, "timeframe": "5m"}, format="json").json()
    assert body["supertrend_exit"]["timeframe"] == "5m" and SupertrendExit.objects.count() == 1
    assert auth_client.delete(url).json() == {"success": True, "supertrend_exit": None}
    assert auth_client.delete(url).status_code == 200  # nothing left to remove: still fine
    assert not SupertrendExit.objects.exists()
    assert_error(
        auth_client.get("/api/positions/00000000-0000-0000-0000-000000000000/supertrend-exit"), 404, "NOT_FOUND"
    )


@pytest.mark.django_db
def test_a_closed_position_is_a_409(auth_client, paper_position):
    assert auth_client.post(f"/api/positions/{paper_position.pk}/close").status_code == 200
    r = auth_client.put(
        f"/api/positions/{paper_position.pk}/supertrend-exit", {"period": 7, "multiplier": 2}, format="json"
    )
    assert_error(r, 409, "POSITION_CLOSED")


@pytest.mark.django_db
def test_a_read_only_api_key_cannot_set_it(user, paper_position, api_client):
    from accounts.models import ApiKey

    _, raw = ApiKey.generate(user, "reader", scopes=["read"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/positions/{paper_position.pk}/supertrend-exit"
    assert api_client.get(url).status_code == 200
    assert api_client.put(url, {"period": 7, "multiplier": 2}, format="json").status_code == 403
    assert not SupertrendExit.objects.exists()


def test_beat_and_the_embedded_scheduler_run_the_service_and_the_poller(settings):
    from bots.scheduler import EmbeddedScheduler

    beat = settings.CELERY_BEAT_SCHEDULE
    assert beat["supertrend-exits"] == {
        "task": "bots.check_supertrend_exits",
        "schedule": settings.SUPERTREND_EXIT_SECONDS,
    }
    assert beat["sync-open-orders"] == {"task": "trading.sync_open_orders", "schedule": settings.ORDER_POLL_SECONDS}
    jobs = {task.name: every for task, every in EmbeddedScheduler().periodic()}
    assert jobs["bots.check_supertrend_exits"] == settings.SUPERTREND_EXIT_SECONDS
    assert EmbeddedScheduler().orders_every == settings.ORDER_POLL_SECONDS
