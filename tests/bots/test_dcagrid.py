"""DCA and grid bots: their lifecycles on the paper exchange over scripted prices (no randomness), restarts in the
middle of a deal, params and capital validation, the API state, and properties of the pure strategies."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots import engine
from bots.managed_view import managed_payload
from bots.models import Bot
from bots.services import create_bot
from bots.strategies.managed import DCA, Grid, Seen
from trading.exchanges import simfeed
from trading.models import Order, PaperOrder, Position, Trade


class Script:
    """The simulated feed's ticker, at a price the test sets (a 0.04 % spread around it)."""

    def __init__(self, mid):
        self.mid = Decimal(mid)

    def __call__(self, symbol, now=None):
        half = self.mid * Decimal("0.0002")
        return {
            "symbol": symbol.upper(),
            "bid": (self.mid - half).quantize(Decimal("0.01")),
            "ask": (self.mid + half).quantize(Decimal("0.01")),
            "last": self.mid,
            "timestamp": 0,
        }


@pytest.fixture
def price(monkeypatch):
    script = Script("1000000")
    monkeypatch.setattr(simfeed, "ticker", script)
    return script


DCA_PARAMS = {
    "base_order": 1000,
    "safety_order": 1000,
    "max_safety_orders": 3,
    "price_deviation": 0.02,
    "step_multiplier": 1.5,
    "volume_multiplier": 2,
    "take_profit": 0.01,
    "cooldown_seconds": 0,
}
GRID_PARAMS = {"lower_price": 900000, "upper_price": 1100000, "grids": 4, "investment": 20000}


def tick(bot):
    outcome = engine.tick_bot(bot.pk, [])
    bot.refresh_from_db()
    assert outcome in ("ok", "traded"), bot.last_error
    return outcome


def open_orders(bot):
    return list(Order.objects.filter(bot=bot, status="open").order_by("price"))


def dca_bot(user, **params):
    return create_bot(
        user,
        name="DCA",
        exchange="luno",
        initial_capital=Decimal("20000"),
        strategy="dca",
        params={**DCA_PARAMS, **params},
    )


def grid_bot(user, **params):
    return create_bot(
        user,
        name="Grid",
        exchange="luno",
        initial_capital=Decimal("30000"),
        strategy="grid",
        params={**GRID_PARAMS, **params},
    )


# --- DCA ------------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_dca_deal_lifecycle(user, price):
    bot = dca_bot(user)
    assert tick(bot) == "traded"  # deal 1: the base order at market, nothing else yet
    base = Order.objects.get(bot=bot, type="market")
    assert base.side == "buy" and base.status == "closed" and bot.managed_state == {"deal": 1}
    tick(bot)  # then the take profit and the first safety order rest
    tp, so1 = sorted(open_orders(bot), key=lambda o: o.side, reverse=True)
    assert so1.side == "buy"
    assert abs(so1.price - base.average * Decimal("0.98")) < 1
    assert abs(tp.price - base.average * Decimal("1.01")) < 1 and tp.amount == base.filled
    state = managed_payload(bot)
    assert state["deal"] == 1 and state["filled_safety_orders"] == 0
    assert state["next_safety_price"] == pytest.approx(float(so1.price), abs=1)

    price.mid = Decimal("975000")  # safety order 1 fills
    tick(bot)
    so1.refresh_from_db()
    assert so1.status == "closed"
    state = managed_payload(bot)
    fills = Order.objects.filter(bot=bot, side="buy", status="closed")
    vwap = sum(o.filled * o.average for o in fills) / sum(o.filled for o in fills)
    assert state["filled_safety_orders"] == 1
    assert state["average_price"] == pytest.approx(float(vwap), rel=1e-9)
    tp.refresh_from_db()
    assert tp.status == "canceled"  # the old take profit made way for one at the new average
    new_tp = Order.objects.get(bot=bot, side="sell", status="open")
    assert new_tp.amount == sum(o.filled for o in fills)
    assert abs(new_tp.price - vwap * Decimal("1.01")) < 1
    so2 = Order.objects.get(bot=bot, side="buy", status="open")  # 2 % + 3 % below the base price, twice the size
    assert abs(so2.price - base.average * Decimal("0.95")) < 1
    assert abs(so2.amount * so2.price - Decimal("2000")) < 1

    price.mid = Decimal("1010000")  # the take profit fills: the deal closes, its safety order is cancelled
    tick(bot)
    new_tp.refresh_from_db()
    so2.refresh_from_db()
    assert new_tp.status == "closed" and so2.status == "canceled"
    assert bot.total_profit > 0
    # Cooldown 0: deal 2 opens on the same tick, with a new base order (and a new position).
    assert bot.managed_state == {"deal": 2}
    assert Position.objects.filter(bot=bot, is_open=False).count() == 1
    assert Order.objects.filter(bot=bot, type="market").count() == 2


@pytest.mark.django_db
def test_dca_stop_loss_and_cooldown(user, price):
    bot = dca_bot(user, max_safety_orders=1, stop_loss=0.05, cooldown_seconds=3600)
    tick(bot)
    tick(bot)
    price.mid = Decimal("940000")  # fills safety order 1 (at 980000) and breaks the stop (5 % under the average)
    tick(bot)
    tick(bot)
    sl = Order.objects.filter(bot=bot, side="sell", type="market")
    assert sl.count() == 1 and sl.get().status == "closed"
    assert not Order.objects.filter(bot=bot, status="open").exists()
    assert managed_payload(bot)["status"] == "cooldown" and managed_payload(bot)["close_reason"] == "stop loss"
    tick(bot)  # within the cooldown: no new deal
    assert bot.managed_state == {"deal": 1}


@pytest.mark.django_db
def test_dca_restart_mid_deal_places_nothing_twice(user, price):
    bot = dca_bot(user)
    tick(bot)
    tick(bot)
    price.mid = Decimal("975000")
    tick(bot)
    before = {o.client_order_id: o.status for o in Order.objects.filter(bot=bot)}
    paper_before = PaperOrder.objects.filter(user=user).count()
    view_before = managed_payload(bot)
    # A restart: a fresh worker, no memory, the same database; the tick runs again (twice, as a retry would).
    from django.core.cache import cache

    cache.clear()
    bot = Bot.objects.get(pk=bot.pk)
    tick(bot)
    tick(bot)
    assert {o.client_order_id: o.status for o in Order.objects.filter(bot=bot)} == before
    assert PaperOrder.objects.filter(user=user).count() == paper_before
    assert managed_payload(bot) == view_before  # rebuilt from the orders


@pytest.mark.django_db
def test_dca_capital_and_params_are_validated(user, auth_client, price):
    response = auth_client.post(
        "/api/bots",
        {"name": "Too big", "exchange": "luno", "initial_capital": "5000", "strategy": "dca", "params": DCA_PARAMS},
        format="json",
    )
    # 1000 + 1000 + 2000 + 4000 = 8000 > 5000
    assert response.status_code == 400
    assert "initial_capital" in response.json()["details"]
    bad = {**DCA_PARAMS, "max_safety_orders": 2.5, "take_profit": -1, "bogus": 1}
    response = auth_client.post(
        "/api/bots",
        {"name": "Bad", "exchange": "luno", "initial_capital": "20000", "strategy": "dca", "params": bad},
        format="json",
    )
    details = response.json()["details"]
    assert response.status_code == 400
    assert {"params.max_safety_orders", "params.take_profit", "params.bogus"} <= set(details)
    response = auth_client.post(
        "/api/bots",
        {"name": "No base", "exchange": "luno", "initial_capital": "20000", "strategy": "dca", "params": {}},
        format="json",
    )
    assert response.json()["details"]["params.base_order"] == ["required"]


@pytest.mark.django_db
def test_dca_state_in_the_bot_detail(user, auth_client, price):
    bot = dca_bot(user)
    tick(bot)
    tick(bot)
    body = auth_client.get(f"/api/bots/{bot.pk}").json()["bot"]
    managed = body["managed"]
    assert managed["kind"] == "dca" and managed["deal"] == 1 and managed["status"] == "open"
    assert managed["average_price"] > 0 and managed["take_profit_price"] > managed["average_price"]
    assert [row["step"] for row in managed["ladder"]] == ["base", "safety 1", "safety 2", "safety 3"]
    assert managed["ladder"][1]["status"] == "open" and managed["ladder"][2]["status"] == "pending"
    assert body["effective_params"]["max_safety_orders"] == 3 and "position_pct" not in body["effective_params"]


# --- grid -----------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_grid_lifecycle(user, price):
    bot = grid_bot(user)  # levels 900k, 950k, 1M, 1.05M, 1.1M; price 1M: the middle level stays empty
    assert tick(bot) == "traded"  # buys the coins for the two sell levels
    init = Order.objects.get(bot=bot, type="market")
    qty = Decimal(bot.managed_state["qty"])
    assert init.amount == (qty * 2).quantize(Decimal("0.00000001"), rounding="ROUND_DOWN")
    tick(bot)
    resting = open_orders(bot)
    assert [(o.side, o.price) for o in resting] == [
        ("buy", Decimal("900000")),
        ("buy", Decimal("950000")),
        ("sell", Decimal("1050000")),
        ("sell", Decimal("1100000")),
    ]
    assert PaperOrder.objects.filter(user=user, status="open").count() == 4  # real resting orders on the exchange

    price.mid = Decimal("945000")  # the 950k buy fills: a sell goes up one level, to 1M
    tick(bot)
    assert [(o.side, o.price) for o in open_orders(bot)] == [
        ("buy", Decimal("900000")),
        ("sell", Decimal("1000000")),
        ("sell", Decimal("1050000")),
        ("sell", Decimal("1100000")),
    ]
    price.mid = Decimal("1004000")  # that sell fills: one grid completed, a buy back at 950k
    tick(bot)
    assert [(o.side, o.price) for o in open_orders(bot)] == [
        ("buy", Decimal("900000")),
        ("buy", Decimal("950000")),
        ("sell", Decimal("1050000")),
        ("sell", Decimal("1100000")),
    ]
    state = managed_payload(bot)
    assert state["completed_grids"] == 1
    sell = Order.objects.get(bot=bot, side="sell", status="closed")
    assert state["grid_profit"] == pytest.approx(
        float(sell.filled * 50000 - sell.fee - sell.fee * 950 / 1000), abs=1e-6
    )
    assert state["range_state"] == "in_range"
    assert [row["price"] for row in state["levels"]] == [1100000, 1050000, 1000000, 950000, 900000]

    price.mid = Decimal("1200000")  # above the range, no trailing, keep: the grid ends, orders cancelled, coins kept
    tick(bot)
    assert not open_orders(bot) and bot.status == "stopped"
    assert managed_payload(bot)["range_state"] == "ended_keep"
    assert not PaperOrder.objects.filter(user=user, status="open").exists()


@pytest.mark.django_db
def test_grid_range_exit_stop_sells_the_coins(user, price):
    bot = grid_bot(user, on_range_exit="stop")
    tick(bot)
    tick(bot)
    price.mid = Decimal("850000")  # below the range: both buys fill, then the grid ends and sells everything
    tick(bot)
    assert engine.tick_bot(bot.pk, []) == "skipped"  # a stopped bot places nothing more
    assert bot.status == "stopped" and not open_orders(bot)
    assert not Position.objects.filter(bot=bot, is_open=True).exists()
    assert Order.objects.filter(bot=bot, side="sell", type="market", status="closed").count() == 1


@pytest.mark.django_db
def test_grid_trails_up(user, price):
    bot = grid_bot(user, trailing_up=True)
    tick(bot)
    tick(bot)
    price.mid = Decimal("1120000")  # every sell filled; then above the top: the range moves up one step
    tick(bot)
    tick(bot)
    state = managed_payload(bot)
    assert state["run"] == 2 and state["lower_price"] == 950000 and state["upper_price"] == 1150000
    assert bot.status != "stopped"
    tick(bot)
    assert all(o.price >= Decimal("950000") for o in open_orders(bot))


@pytest.mark.django_db
def test_grid_restart_reconciles_and_duplicates_nothing(user, price):
    bot = grid_bot(user)
    tick(bot)
    tick(bot)
    # While the worker is down, the market crosses the 950k buy: the exchange fills it, our books do not know yet.
    price.mid = Decimal("945000")
    from trading.exchanges import get_exchange

    get_exchange(user, "luno", "paper").match_open_orders("BTC/ZAR")
    assert Order.objects.filter(bot=bot, status="open").count() == 4  # not yet reconciled
    bot = Bot.objects.get(pk=bot.pk)
    tick(bot)  # on start: synced with the exchange, the fill booked, the opposite order placed
    tick(bot)
    assert Trade.objects.filter(bot=bot, side="buy").count() == 2  # the coins and the 950k fill, once each
    assert [(o.side, o.price) for o in open_orders(bot)] == [
        ("buy", Decimal("900000")),
        ("sell", Decimal("1000000")),
        ("sell", Decimal("1050000")),
        ("sell", Decimal("1100000")),
    ]
    assert PaperOrder.objects.filter(user=user, status="open").count() == 4


@pytest.mark.django_db
def test_grid_params_and_capital(user, auth_client, price):
    response = auth_client.post(
        "/api/bots",
        {
            "name": "Grid",
            "exchange": "luno",
            "initial_capital": "10000",
            "strategy": "grid",
            "params": {**GRID_PARAMS, "upper_price": 800000, "spacing": "fibonacci"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"params.spacing"}
    response = auth_client.post(
        "/api/bots",
        {"name": "Grid", "exchange": "luno", "initial_capital": "10000", "strategy": "grid", "params": GRID_PARAMS},
        format="json",
    )
    assert response.status_code == 400 and "params.investment" in response.json()["details"]
    response = auth_client.post(
        "/api/bots",
        {"name": "G", "exchange": "luno", "initial_capital": "30000", "strategy": "grid", "params": GRID_PARAMS},
        format="json",
    )
    assert response.status_code == 201


@pytest.mark.django_db
def test_indicator_bots_unchanged(user, price):
    from tests.bots.test_engine import BUY, scaled

    bot = create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    assert engine.tick_bot(bot.pk, scaled(BUY, 10000)) == "traded"
    bot.refresh_from_db()
    assert bot.managed_state == {} and bot.last_decision == "traded_buy"


# --- properties -----------------------------------------------------------------------------------------------------
prices = st.decimals(min_value=Decimal("100"), max_value=Decimal("100000"), places=2)


@settings(max_examples=60, deadline=None)
@given(
    fills=st.lists(
        st.tuples(prices, st.decimals(min_value=Decimal("0.001"), max_value=Decimal("5"), places=6)),
        min_size=1,
        max_size=6,
    )
)
def test_dca_average_is_the_volume_weighted_average_of_the_fills(fills):
    p = DCA().params({**DCA_PARAMS, "max_safety_orders": 5})
    keys = [(1, "base")] + [(1, "so", k) for k in range(1, 6)]
    orders = {
        key: Seen("closed", amount, amount, price, Decimal("0"))
        for key, (price, amount) in zip(keys[: len(fills)], fills, strict=True)
    }
    view = DCA().deal_view(p, 1, orders)
    expected = sum(a * pr for pr, a in fills) / sum(a for _, a in fills)
    assert view["average"] == expected
    assert view["filled_safety_orders"] == len(fills) - 1


@settings(max_examples=60, deadline=None)
@given(
    grids=st.integers(min_value=2, max_value=12),
    spacing=st.sampled_from(["arithmetic", "geometric"]),
    path=st.lists(st.integers(min_value=850, max_value=1150), min_size=1, max_size=25),
)
def test_a_grid_never_holds_two_orders_on_one_level(grids, spacing, path):
    """Simulate the exchange over a price path: whatever fills, each level rests at most one order (so never two
    buys), and the buys are always below the sells."""
    strategy = Grid()
    p = strategy.params({**GRID_PARAMS, "grids": grids, "spacing": spacing})
    book: dict = {}  # key -> Seen: the exchange
    state, desired, _ = strategy.plan(p, {}, book, Decimal("1000000"))
    for step in [1000, *path]:
        mid = Decimal(step) * 1000
        for key, want in desired.items():
            if want is not None and key not in book:
                book[key] = Seen("open", want.amount, Decimal("0"), None, Decimal("0"))
            if want is not None and book[key].status == "open":
                crosses = want.type == "market" or (want.side == "buy" and mid <= want.price)
                crosses = crosses or (want.side == "sell" and mid >= want.price)
                if crosses:
                    book[key] = Seen("closed", want.amount, want.amount, want.price or mid, Decimal("0"))
        for key in list(book):  # orders no longer desired are cancelled
            if book[key].status == "open" and key not in desired:
                book[key] = Seen("canceled", book[key].amount, Decimal("0"), None, Decimal("0"))
        state, desired, _ = strategy.plan(p, state, book, mid)
        limits = [(key[2], want.side, want.price) for key, want in desired.items() if want and key[1] == "L"]
        levels = [level for level, _, _ in limits]
        assert len(levels) == len(set(levels))
        buys = [pr for _, side, pr in limits if side == "buy"]
        sells = [pr for _, side, pr in limits if side == "sell"]
        if buys and sells:
            assert max(buys) < min(sells)


@pytest.mark.django_db
def test_manual_exit_of_a_grid_cancels_its_orders_and_stops_it(user, auth_client, price):
    bot = grid_bot(user)
    tick(bot)
    tick(bot)
    response = auth_client.post(f"/api/bots/{bot.pk}/exit", {}, format="json")
    assert response.status_code == 200, response.content
    bot.refresh_from_db()
    assert bot.status == "stopped" and not open_orders(bot)
    assert not Position.objects.filter(bot=bot, is_open=True).exists()
    assert not PaperOrder.objects.filter(user=user, status="open").exists()


@pytest.mark.django_db
def test_update_validates_params_and_guards_a_running_grid(user, auth_client, price):
    bot = grid_bot(user)
    response = auth_client.patch(f"/api/bots/{bot.pk}", {"params": {**GRID_PARAMS, "grids": 1}}, format="json")
    assert response.status_code == 400 and response.json()["details"] == {"params.grids": ["must be at least 2"]}
    response = auth_client.patch(f"/api/bots/{bot.pk}", {"params": {**GRID_PARAMS, "investment": 40000}}, format="json")
    assert response.status_code == 400 and "params.investment" in response.json()["details"]
    tick(bot)
    tick(bot)
    # Its resting orders belong to the grid: no switching strategy under them.
    response = auth_client.patch(f"/api/bots/{bot.pk}", {"strategy": "momentum"}, format="json")
    assert response.status_code == 409
    # Never two orders (so never two buys) resting on one level, on the exchange either.
    prices = [o.price for o in open_orders(bot)]
    assert len(prices) == len(set(prices)) == 4
