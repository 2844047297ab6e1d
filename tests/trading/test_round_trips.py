"""Round trips (a position's entry and exit trades paired) and a bot's equity curve: through the API, and as a property
over random fill sequences booked by the real trading service."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots import engine
from bots.models import Bot
from bots.services import create_bot
from tests.bots.test_engine import BUY, SELL, scaled
from tests.helpers import assert_error
from trading import services as trading
from trading.models import Order, Position, Trade
from trading.selectors import pair_round_trips

_cids = itertools.count()


def fill(user, bot, side, amount, price, fee="0", symbol="BTC/ZAR", at=None):
    """Book one fill through the trading service exactly as the engine's orders are booked."""
    order = Order.objects.create(
        user=user,
        bot=bot,
        exchange="luno",
        symbol=symbol,
        side=side,
        type="market",
        amount=Decimal(amount),
        status="closed",
        client_order_id=f"rt-{next(_cids)}-{uuid.uuid4().hex[:8]}",
    )
    trade = trading.record_fill(order, Decimal(amount), Decimal(price), Decimal(fee), "ZAR")
    if at is not None:
        Trade.objects.filter(pk=trade.pk).update(created_at=at)
        trade.refresh_from_db()
    return trade


def plain_bot(user, name="Alpha"):
    return Bot.objects.create(
        user=user,
        name=name,
        exchange="luno",
        symbol="BTC/ZAR",
        status="paused",
        initial_capital=Decimal("10000"),
        current_capital=Decimal("10000"),
    )


T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_engine_round_trips_through_the_api(auth_client, user):
    bot = create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    engine.tick_bot(bot.pk, scaled(SELL, 12000))
    later = [[row[0] + 3_600_000, *row[1:]] for row in scaled(BUY, 12000)]  # an hour on: a new signal candle
    engine.tick_bot(bot.pk, later)  # a second position, still open
    buy, sell, again = Trade.objects.filter(bot=bot).order_by("created_at")

    body = auth_client.get(f"/api/bots/{bot.pk}/round-trips").json()
    assert body["success"] is True and body["total"] == 2 and body["bot_id"] == str(bot.pk)
    newest, first = body["round_trips"]
    assert newest["status"] == "open" and newest["exit_at"] is None and newest["duration_seconds"] is None
    assert newest["amount"] == float(again.amount) and newest["profit_loss"] == 0.0
    assert first["status"] == "closed" and first["id"] == str(buy.id) and first["bot_name"] == "Alpha"
    assert first["entry_price"] == float(buy.price) and first["exit_price"] == float(sell.price)
    assert first["amount"] == float(buy.amount) and first["trades"] == 2
    assert first["profit_loss"] == float(sell.profit_loss)
    assert first["fees"] == float(buy.fee + sell.fee)
    cost = buy.price * buy.amount
    assert abs(first["profit_pct"] - float(sell.profit_loss / cost * 100)) < 1e-3
    assert first["duration_seconds"] == int((sell.created_at - buy.created_at).total_seconds())
    assert first["entry_at"].endswith("Z") and first["exit_at"].endswith("Z")

    everyone = auth_client.get("/api/trades/round-trips?status=closed").json()
    assert everyone["total"] == 1 and everyone["round_trips"][0]["id"] == str(buy.id)
    page = auth_client.get(f"/api/bots/{bot.pk}/round-trips?limit=1&offset=1").json()
    assert page["total"] == 2 and [t["id"] for t in page["round_trips"]] == [str(buy.id)]

    equity = auth_client.get(f"/api/bots/{bot.pk}/equity").json()
    assert equity["success"] is True and equity["initial_capital"] == 50000.0
    points = equity["points"]
    assert len(points) == 2 and points[0]["equity"] == 50000.0 and points[0]["profit"] == 0.0
    bot.refresh_from_db()
    assert points[-1]["equity"] == round(float(bot.current_capital), 2) == equity["current_capital"]
    assert points[-1]["profit"] == round(float(bot.total_profit), 2)


@pytest.mark.django_db
def test_partial_exits_scale_ins_and_a_sell_with_nothing_open(user):
    bot = plain_bot(user)
    fill(user, bot, "buy", "1", "100", "1", at=T0)
    fill(user, bot, "buy", "1", "200", "1", at=T0 + timedelta(minutes=1))  # scale in: entry 150
    fill(user, bot, "sell", "0.5", "300", "1", at=T0 + timedelta(minutes=2))
    fill(user, bot, "sell", "1.5", "100", "1", at=T0 + timedelta(minutes=3))  # closes it
    fill(user, bot, "sell", "1", "100", "0", at=T0 + timedelta(minutes=4))  # nothing open: no P&L, no entry
    trades = Trade.objects.filter(bot=bot).order_by("created_at", "id")
    closed, orphan = pair_round_trips(trades)
    assert closed["status"] == "closed" and closed["trades"] == 4
    assert closed["entry_price"] == 150.0 and closed["amount"] == 2.0 and closed["exit_amount"] == 2.0
    assert closed["exit_price"] == 150.0 and closed["fees"] == 4.0
    assert closed["duration_seconds"] == 180
    assert Decimal(str(closed["profit_loss"])) == Position.objects.get(bot=bot).realised_pnl
    assert orphan["entry_at"] is None and orphan["status"] == "closed" and orphan["profit_loss"] == 0.0


@pytest.mark.django_db
def test_newest_entry_first_when_round_trips_overlap(auth_client, user):
    alpha, beta = plain_bot(user, "Alpha"), plain_bot(user, "Beta")
    fill(user, alpha, "buy", "0.01", "1000", at=T0)
    fill(user, beta, "buy", "0.01", "1000", at=T0 + timedelta(hours=1))
    fill(user, beta, "sell", "0.01", "1000", at=T0 + timedelta(hours=2))  # Beta closes first ...
    fill(user, alpha, "sell", "0.01", "1000", at=T0 + timedelta(hours=3))  # ... though Alpha entered first
    fill(user, alpha, "buy", "0.01", "1000", at=T0 + timedelta(hours=4))
    names = [t["bot_name"] for t in auth_client.get("/api/trades/round-trips").json()["round_trips"]]
    assert names == ["Alpha", "Beta", "Alpha"]
    entries = [t["entry_at"] for t in auth_client.get("/api/trades/round-trips").json()["round_trips"]]
    assert entries == sorted(entries, reverse=True)


@pytest.mark.django_db
def test_round_trip_filters_and_validation(auth_client, user):
    alpha, beta = plain_bot(user, "Alpha"), plain_bot(user, "Beta")
    fill(user, alpha, "buy", "0.01", "1000", at=T0)
    fill(user, alpha, "sell", "0.01", "1100", at=T0 + timedelta(days=1))
    fill(user, alpha, "buy", "0.01", "1000", at=T0 + timedelta(days=2))
    fill(user, beta, "buy", "1", "50", symbol="ETH/ZAR", at=T0 + timedelta(days=1))

    def ids(query):
        body = auth_client.get(f"/api/trades/round-trips?{query}").json()
        return body["total"], [(t["bot_name"], t["entry_at"][:10]) for t in body["round_trips"]]

    assert ids("")[0] == 3
    assert ids(f"bot={alpha.pk}") == (2, [("Alpha", "2026-03-03"), ("Alpha", "2026-03-01")])
    assert ids("symbol=eth/zar") == (1, [("Beta", "2026-03-02")])
    # Dates select by entry; "to" as a date takes that whole day. The first trip exits on 03-02 but entered on 03-01.
    assert ids("from=2026-03-02&to=2026-03-02") == (1, [("Beta", "2026-03-02")])
    assert ids("to=2026-03-01") == (1, [("Alpha", "2026-03-01")])
    assert ids("status=open")[0] == 2
    for bad, field in (("from=yesterday", "from"), ("to=2026-13-01", "to"), ("from=2026-03-02&to=2026-03-01", "to")):
        body = assert_error(auth_client.get(f"/api/trades/round-trips?{bad}"), 400, "VALIDATION_ERROR")
        assert field in body["details"], body
    assert_error(auth_client.get("/api/trades/round-trips?status=maybe"), 400, "VALIDATION_ERROR")


@pytest.mark.django_db
def test_other_users_bot_is_not_found(auth_client, other_client, user):
    bot = plain_bot(user)
    fill(user, bot, "buy", "0.01", "1000")
    for path in (f"/api/bots/{bot.pk}/round-trips", f"/api/bots/{bot.pk}/equity"):
        assert auth_client.get(path).status_code == 200
        assert_error(other_client.get(path), 404, "NOT_FOUND")
    assert other_client.get(f"/api/trades/round-trips?bot={bot.pk}").json() == {
        "success": True,
        "round_trips": [],
        "total": 0,
    }


@pytest.mark.django_db
def test_equity_curve_is_thinned_to_its_limit(auth_client, user, monkeypatch):
    monkeypatch.setattr("bots.selectors.EQUITY_MAX_POINTS", 5)
    bot = plain_bot(user)
    for i in range(6):
        fill(user, bot, "buy", "0.01", "1000", at=T0 + timedelta(hours=2 * i))
        fill(user, bot, "sell", "0.01", str(1000 + 10 * (i + 1)), at=T0 + timedelta(hours=2 * i + 1))
    points = auth_client.get(f"/api/bots/{bot.pk}/equity").json()["points"]
    bot.refresh_from_db()
    assert len(points) == 5 and points[0]["equity"] == 10000.0
    assert points[-1]["equity"] == round(float(bot.current_capital), 2) == 10000 + 0.1 * 21


fills = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.decimals(min_value=Decimal("0.001"), max_value=Decimal("2"), places=3),
        st.decimals(min_value=Decimal("10"), max_value=Decimal("1000"), places=2),
        st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=2),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=fills)
def test_round_trips_add_up_to_the_bots_realised_pnl(user, sequence):
    bot = plain_bot(user)
    for i, (side, amount, price, fee) in enumerate(sequence):
        fill(user, bot, side, amount, price, fee, at=T0 + timedelta(seconds=i))
    trades = list(Trade.objects.filter(bot=bot).order_by("created_at", "id"))
    trips = pair_round_trips(trades)
    bot.refresh_from_db()
    realised = sum((t.profit_loss for t in trades), Decimal("0"))
    assert bot.total_profit == realised
    assert abs(sum(Decimal(str(t["profit_loss"])) for t in trips) - realised) < Decimal("0.000001")
    assert sum(t["trades"] for t in trips) == len(trades)  # every trade in exactly one round trip
    # Paired as positions are booked: one closed round trip with an entry per closed position, the same P&L.
    positions = list(Position.objects.filter(bot=bot).order_by("opened_at"))
    with_entry = [t for t in trips if t["entry_at"] is not None]
    assert len(with_entry) == len(positions)
    for trip, position in zip(with_entry, positions, strict=True):
        assert (trip["status"] == "open") is position.is_open
        assert abs(Decimal(str(trip["profit_loss"])) - position.realised_pnl) < Decimal("0.00000001")
