"""Smart exits and protections on the paper exchange, each with a scripted price path (no randomness): multi-step take
profit, trailing take profit, a trailing stop that follows the price up and then fires, the move to breakeven, the time
stop; every protection; exactly-once under a retried tick; the API (validation, cross-tenant 404, history); and the
hypothesis property that exits never sell more than the position."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import UserConfig
from bots import engine, exits
from bots.models import Bot, BotEvent, ExitPlan
from bots.services import create_bot
from realtime import events
from tests.bots.test_engine import BUY, scaled
from tests.bots.test_strategies import candles_from
from tests.helpers import assert_error
from trading.exchanges import simfeed
from trading.models import Order, Position, Trade

LEVEL = 10000  # candles around 1,000,000 ZAR
FLAT = scaled(candles_from([100.0] * 30), LEVEL)  # no momentum signal: only the exit plan acts
ENTRY = Decimal("1000000")
# The same buy signal on later candles (a new candle: a new client order id).
AGAIN = [[row[0] + 3_600_000, *row[1:]] for row in scaled(BUY, LEVEL)]


@pytest.fixture
def price(monkeypatch):
    """Script the market: price.set(p) makes the paper exchange's bid and ask (and so its fills) p."""

    class Script:
        now = ENTRY

        def set(self, value):
            self.now = Decimal(str(value)).quantize(Decimal("0.01"))
            cache.clear()  # the engine's shared ticker and candles are cached a few seconds

    script = Script()
    monkeypatch.setattr(
        simfeed,
        "ticker",
        lambda symbol, now=None: {
            "symbol": symbol,
            "bid": script.now,
            "ask": script.now,
            "last": script.now,
            "timestamp": 0,
        },
    )
    return script


@pytest.fixture
def published(monkeypatch):
    seen = []
    real = events.publish

    def spy(user_id, kind, payload):
        seen.append((kind, payload))
        return real(user_id, kind, payload)

    monkeypatch.setattr(events, "publish", spy)
    return seen


def make_bot(user, **params):
    return create_bot(
        user, name="Exits", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum", params=params
    )


def open_position(bot, price):
    price.set(ENTRY)
    assert engine.tick_bot(bot.pk, scaled(BUY, LEVEL)) == "traded"
    return Position.objects.get(bot=bot, is_open=True)


def at(price, bot, position, pct):
    """One tick with the price ``pct`` % from the position's entry price."""
    price.set(position.entry_price * (1 + Decimal(str(pct)) / 100))
    return engine.tick_bot(bot.pk, FLAT)


def sells(bot):
    return list(Order.objects.filter(bot=bot, side="sell").order_by("created_at"))


@pytest.mark.django_db
def test_take_profit_in_two_steps(user, auth_client, price):
    bot = make_bot(user, tp1_at_pct=2, tp1_size_pct=50, tp2_at_pct=4, tp2_size_pct=50)
    position = open_position(bot, price)
    bought = position.amount
    assert at(price, bot, position, 1) == "ok" and sells(bot) == []
    assert at(price, bot, position, 2.5) == "traded"
    first = sells(bot)
    assert len(first) == 1 and first[0].amount == (bought / 2).quantize(Decimal("0.00000001"))
    assert "take profit 1 of 2" in first[0].reason and "engine-side" in first[0].reason
    position.refresh_from_db()
    assert position.is_open and position.amount == bought - first[0].amount
    assert at(price, bot, position, 3) == "ok" and len(sells(bot)) == 1
    assert at(price, bot, position, 4.5) == "traded"
    orders = sells(bot)
    assert len(orders) == 2 and "take profit 2 of 2" in orders[1].reason
    assert sum(o.amount for o in orders) == bought  # the rest, never more
    position.refresh_from_db()
    assert not position.is_open
    bot.refresh_from_db()
    # P&L booked through the normal fill path: the bot's profit is its sells' P&L, and both were profitable.
    pnl = [t.profit_loss for t in Trade.objects.filter(bot=bot, side="sell")]
    assert all(p > 0 for p in pnl) and bot.total_profit == sum(pnl)
    assert bot.last_decision == "exit" and "take profit 2 of 2" in bot.last_decision_reason
    assert list(BotEvent.objects.filter(bot=bot, kind="exit").values_list("name", flat=True)) == ["take_profit"] * 2
    # The trade history says which exit fired, and where.
    listed = auth_client.get(f"/api/trades?bot={bot.pk}&side=sell").json()["trades"]
    assert [t["reason"].split(":")[0] for t in listed] == ["take profit 2 of 2", "take profit 1 of 2"]
    assert all(t["reason"].endswith("(engine-side)") for t in listed)


@pytest.mark.django_db
def test_trailing_stop_follows_the_price_up_then_fires(user, auth_client, price):
    bot = make_bot(user)
    position = open_position(bot, price)
    response = auth_client.put(
        f"/api/positions/{position.pk}/exits", {"trailing_stop": {"distance_pct": 2}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["exits"]["execution"] == "engine-side"
    stops = []
    for pct in (1, 3, 5, 4):  # up, up, up, a small dip (still above the stop)
        assert at(price, bot, position, pct) == "ok"
        stops.append(auth_client.get(f"/api/positions/{position.pk}/exits").json()["exits"]["state"])
    entry = float(position.entry_price)
    trail = [s["trailing_stop_price"] for s in stops]
    assert trail[0] == pytest.approx(entry * 1.01 * 0.98, rel=1e-6)
    assert trail[1] == pytest.approx(entry * 1.03 * 0.98, rel=1e-6)
    assert trail[2] == pytest.approx(entry * 1.05 * 0.98, rel=1e-6) == trail[3]  # it never moves down
    assert stops[3]["highest_price"] == pytest.approx(entry * 1.05, rel=1e-6)
    assert sells(bot) == []
    assert at(price, bot, position, 2.8) == "traded"  # 1.028 < 1.05 x 0.98 = 1.029
    (order,) = sells(bot)
    assert (
        order.amount == position.amount and order.reason.startswith("trailing stop") and "engine-side" in order.reason
    )
    position.refresh_from_db()
    assert not position.is_open and position.realised_pnl > 0
    detail = auth_client.get(f"/api/bots/{bot.pk}").json()["bot"]
    assert detail["exits"] is None and detail["last_decision"] == "exit"


@pytest.mark.django_db
def test_trailing_take_profit_arms_then_sells_on_the_callback(user, price):
    bot = make_bot(user, trailing_tp_activate_pct=3, trailing_tp_callback_pct=1)
    position = open_position(bot, price)
    assert at(price, bot, position, 2) == "ok"
    assert ExitPlan.objects.get(position=position).state["trailing_tp_armed"] is False
    assert at(price, bot, position, 3.5) == "ok"
    assert ExitPlan.objects.get(position=position).state["trailing_tp_armed"] is True
    assert at(price, bot, position, 5) == "ok"
    assert at(price, bot, position, 4.5) == "ok"  # 0.48 % off the high
    assert sells(bot) == []
    assert at(price, bot, position, 3.8) == "traded"  # 1.14 % off the high
    (order,) = sells(bot)
    assert order.reason.startswith("trailing take profit") and order.amount == position.amount


@pytest.mark.django_db
def test_breakeven_after_the_first_target(user, price):
    bot = make_bot(user, tp1_at_pct=2, tp1_size_pct=50, tp2_at_pct=6, tp2_size_pct=50, breakeven_after_tp1=1)
    position = open_position(bot, price)
    assert at(price, bot, position, 0.5) == "ok"
    assert ExitPlan.objects.get(position=position).state["trailing_stop_price"] is None  # no stop before the target
    assert at(price, bot, position, 2.5) == "traded"
    state = ExitPlan.objects.get(position=position).state
    assert state["targets_filled"] == [0]
    assert at(price, bot, position, 0.5) == "ok"  # above the entry: holds
    assert Decimal(ExitPlan.objects.get(position=position).state["trailing_stop_price"]) == position.entry_price
    assert at(price, bot, position, -0.1) == "traded"
    first, second = sells(bot)
    assert second.reason.startswith("breakeven stop") and first.amount + second.amount == position.amount
    position.refresh_from_db()
    assert not position.is_open and position.realised_pnl > 0  # the first half's profit is kept


@pytest.mark.django_db
def test_time_stop(user, price):
    bot = make_bot(user, time_stop_minutes=30)
    position = open_position(bot, price)
    assert at(price, bot, position, 0) == "ok"
    Position.objects.filter(pk=position.pk).update(opened_at=position.opened_at - timedelta(minutes=31))
    assert at(price, bot, position, 0) == "traded"
    (order,) = sells(bot)
    assert order.reason.startswith("time stop after 30 min")


@pytest.mark.django_db
def test_retried_tick_places_an_exit_once(user, price):
    bot = make_bot(user, tp1_at_pct=2, tp1_size_pct=50)
    position = open_position(bot, price)
    assert at(price, bot, position, 2.5) == "traded"
    # A retried tick that lost the state (as if the first one's bookkeeping never happened) finds the order by its
    # deterministic client order id and places nothing.
    ExitPlan.objects.filter(position=position).update(state=exits.new_state(position.amount, position.entry_price))
    assert at(price, bot, position, 2.5) == "ok"
    assert at(price, bot, position, 2.6) == "ok"
    assert len(sells(bot)) == 1
    assert ExitPlan.objects.get(position=position).state["targets_filled"] == [0]
    assert BotEvent.objects.filter(bot=bot, kind="exit").count() == 1


@pytest.mark.django_db
def test_no_exit_while_a_sell_of_the_position_is_working(user, price):
    """On a live exchange a sale may take a moment to fill: until it does, no exit (and no strategy sell) adds
    another, so the sells never exceed the position."""
    bot = make_bot(user, tp1_at_pct=2, tp1_size_pct=50, tp2_at_pct=3, tp2_size_pct=50)
    position = open_position(bot, price)
    Order.objects.create(
        user=user,
        bot=bot,
        exchange="luno",
        symbol="BTC/ZAR",
        side="sell",
        type="market",
        amount=position.amount,
        status="open",
        client_order_id="working-sell",
        is_paper=True,
    )
    assert at(price, bot, position, 3.5) == "ok"
    bot.refresh_from_db()
    assert bot.last_decision == "exit" and bot.last_decision_reason.startswith("Waiting for the working sell")
    assert Order.objects.filter(bot=bot, side="sell").count() == 1
    Order.objects.filter(client_order_id="working-sell").update(status="canceled")
    assert at(price, bot, position, 3.5) == "traded"


# --- protections -------------------------------------------------------------------------------------------------
def buy_blocked(bot, price, published, name):
    """A buy signal on a flat bot is refused by protection ``name``: one alert and one history line, however often."""
    price.set(ENTRY)
    assert engine.tick_bot(bot.pk, AGAIN) == "ok"
    assert engine.tick_bot(bot.pk, AGAIN) == "ok"
    bot.refresh_from_db()
    assert bot.last_decision == "protection" and bot.risk_block
    assert not Position.objects.filter(bot=bot, is_open=True).exists()
    alerts = [p for k, p in published if k == events.ALERT and p.get("kind") == "protection"]
    assert len(alerts) == 1 and alerts[0]["protection"] == name and alerts[0]["bot_id"] == str(bot.pk)
    assert list(BotEvent.objects.filter(bot=bot, kind="protection").values_list("name", flat=True)) == [name]
    return bot


@pytest.mark.django_db
def test_cooldown_after_exit(user, price, published):
    bot = make_bot(user, trailing_stop_pct=1, cooldown_minutes=60)
    position = open_position(bot, price)
    assert at(price, bot, position, -2) == "traded"
    bot = buy_blocked(bot, price, published, "cooldown")
    assert "Buy signal ignored: Cooldown: 60 min after the last exit" in bot.last_decision_reason
    Position.objects.filter(pk=position.pk).update(closed_at=position.opened_at - timedelta(minutes=61))
    price.set(ENTRY)
    assert engine.tick_bot(bot.pk, AGAIN) == "traded"  # the cooldown is over


@pytest.mark.django_db
def test_stoploss_guard(user, price, published):
    bot = make_bot(user, trailing_stop_pct=1, sl_guard_count=1, sl_guard_window_minutes=30)
    position = open_position(bot, price)
    assert at(price, bot, position, -2) == "traded"
    bot = buy_blocked(bot, price, published, "stoploss_guard")
    assert "Stop-loss guard: 1 stop-loss exits of this bot within 30 min" in bot.last_decision_reason
    BotEvent.objects.filter(bot=bot, kind="exit").update(created_at=position.opened_at - timedelta(minutes=31))
    price.set(ENTRY)
    assert engine.tick_bot(bot.pk, AGAIN) == "traded"


@pytest.mark.django_db
def test_stoploss_guard_counts_the_strategys_stop_loss(user, price, published):
    bot = make_bot(user, sl_guard_count=1)
    open_position(bot, price)
    price.set(Decimal("965000"))
    drop = scaled(candles_from([100.0] * 29 + [96.5]), LEVEL)  # the candle's low is under the risk mode's stop
    assert engine.tick_bot(bot.pk, drop) == "traded"
    assert Order.objects.get(bot=bot, side="sell").reason.startswith("stop loss hit")
    assert BotEvent.objects.get(bot=bot, kind="exit").name == "stop_loss"
    buy_blocked(bot, price, published, "stoploss_guard")


@pytest.mark.django_db
def test_max_drawdown(user, price, published):
    bot = make_bot(user, max_drawdown_pct=10)
    Bot.objects.filter(pk=bot.pk).update(peak_capital=Decimal("60000"), current_capital=Decimal("53000"))
    bot = buy_blocked(bot, price, published, "max_drawdown")
    assert "11.67% below its peak 60000.00" in bot.last_decision_reason
    Bot.objects.filter(pk=bot.pk).update(current_capital=Decimal("56000"))  # 6.67 % below: under the limit
    price.set(ENTRY)
    assert engine.tick_bot(bot.pk, scaled(BUY, LEVEL)) == "traded"


@pytest.mark.django_db
def test_peak_capital_follows_profitable_exits(user, price):
    bot = make_bot(user, tp1_at_pct=2, tp1_size_pct=100)
    position = open_position(bot, price)
    assert at(price, bot, position, 3) == "traded"
    bot.refresh_from_db()
    assert bot.current_capital > Decimal("50000") and bot.peak_capital == bot.current_capital


@pytest.mark.django_db
def test_low_profit_pair_lock(user, price, published):
    bot = make_bot(user, trailing_stop_pct=1, pair_lock_trips=1, pair_lock_min_profit_pct=0, pair_lock_minutes=120)
    position = open_position(bot, price)
    assert at(price, bot, position, -2) == "traded"  # a losing round trip
    bot = buy_blocked(bot, price, published, "pair_lock")
    assert "Low-profit pair lock: BTC/ZAR's last 1 round trips made -" in bot.last_decision_reason


@pytest.mark.django_db
def test_per_user_protection_applies_to_every_bot(user, price, published):
    UserConfig.objects.create(user=user, section="risk", values={"cooldown_minutes": 60})
    cache.clear()
    bot = make_bot(user, trailing_stop_pct=1)
    position = open_position(bot, price)
    assert at(price, bot, position, -2) == "traded"
    buy_blocked(bot, price, published, "cooldown")


# --- the API ------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_exit_plan_validation(user, auth_client, price):
    bot = make_bot(user)
    position = open_position(bot, price)
    url = f"/api/positions/{position.pk}/exits"
    bad = [
        (
            {"targets": [{"at_profit_pct": 4, "pct_of_position": 50}, {"at_profit_pct": 2, "pct_of_position": 50}]},
            "targets",
        ),
        (
            {"targets": [{"at_profit_pct": 2, "pct_of_position": 60}, {"at_profit_pct": 4, "pct_of_position": 60}]},
            "targets",
        ),
        ({"trailing_stop": {"distance_pct": 0}}, "trailing_stop"),
        ({"trailing_stop": {"distance_pct": "abc"}}, "trailing_stop"),
        ({"time_stop_minutes": 0}, "time_stop_minutes"),
        ({"breakeven_after_first_target": True}, "breakeven_after_first_target"),
    ]
    for body, field in bad:
        error = assert_error(auth_client.put(url, body, format="json"), 400, "VALIDATION_ERROR")
        assert field in error["details"], (body, error)
    good = {
        "targets": [{"at_profit_pct": 2, "pct_of_position": 50}, {"at_profit_pct": 4, "pct_of_position": 50}],
        "trailing_take_profit": {"activate_at_pct": 3, "callback_pct": 1},
        "trailing_stop": {"distance_pct": 2.5},
        "breakeven_after_first_target": True,
        "time_stop_minutes": 240,
    }
    saved = auth_client.put(url, good, format="json").json()["exits"]
    assert saved["plan"]["targets"][1] == {"at_profit_pct": 4.0, "pct_of_position": 50.0}
    assert saved["take_profit"] is None  # the targets replace the single take profit
    assert auth_client.get(url).json()["exits"]["plan"] == saved["plan"]
    history = auth_client.get(f"/api/bots/{bot.pk}/history?limit=1").json()
    assert history["total"] == 1 and history["events"][0]["kind"] == "exit_plan"


@pytest.mark.django_db
def test_bot_params_validate_exits_and_protections(user, auth_client):
    bot = make_bot(user)
    for params in ({"tp1_size_pct": 101}, {"cooldown_minutes": 1.5}, {"sl_guard_count": True}):
        response = auth_client.patch(f"/api/bots/{bot.pk}", {"params": params}, format="json")
        assert_error(response, 400, "VALIDATION_ERROR")
    ok = auth_client.patch(
        f"/api/bots/{bot.pk}", {"params": {"trailing_stop_pct": 2, "cooldown_minutes": 0}}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["bot"]["params"]["trailing_stop_pct"] == 2


@pytest.mark.django_db
def test_another_users_position_and_bot_are_404(user, other_client, price):
    bot = make_bot(user)
    position = open_position(bot, price)
    assert_error(other_client.get(f"/api/positions/{position.pk}/exits"), 404, "NOT_FOUND")
    body = {"trailing_stop": {"distance_pct": 2}}
    assert_error(other_client.put(f"/api/positions/{position.pk}/exits", body, format="json"), 404, "NOT_FOUND")
    assert_error(other_client.get(f"/api/bots/{bot.pk}/history"), 404, "NOT_FOUND")
    assert not ExitPlan.objects.exists()


@pytest.mark.django_db
def test_closed_position_is_409(user, auth_client, price):
    bot = make_bot(user)
    position = open_position(bot, price)
    assert auth_client.post(f"/api/positions/{position.pk}/close").status_code == 200
    body = {"trailing_stop": {"distance_pct": 2}}
    assert_error(auth_client.put(f"/api/positions/{position.pk}/exits", body, format="json"), 409, "POSITION_CLOSED")


@pytest.mark.django_db
def test_bot_detail_shows_exits_and_protections(user, auth_client, price):
    bot = make_bot(user, trailing_stop_pct=2, cooldown_minutes=15)
    open_position(bot, price)
    detail = auth_client.get(f"/api/bots/{bot.pk}").json()["bot"]
    assert detail["exits"]["plan"]["trailing_stop"] == {"distance_pct": 2.0}
    assert detail["protections"]["settings"]["cooldown_minutes"] == 15
    assert detail["protections"]["blocking"] is None


# --- the property -------------------------------------------------------------------------------------------------
pcts = st.decimals(min_value="0.1", max_value="50", places=2)
plans = st.fixed_dictionaries(
    {
        "targets": st.lists(
            st.fixed_dictionaries({"at_profit_pct": pcts, "pct_of_position": st.decimals("1", "100", places=2)}),
            max_size=4,
        ).map(lambda ts: sorted(ts, key=lambda t: t["at_profit_pct"])),
        "trailing_take_profit": st.none()
        | st.fixed_dictionaries({"activate_at_pct": pcts, "callback_pct": st.decimals("0.1", "20", places=2)}),
        "trailing_stop": st.none() | st.fixed_dictionaries({"distance_pct": st.decimals("0.1", "20", places=2)}),
        "breakeven_after_first_target": st.booleans(),
        "time_stop_minutes": st.none() | st.integers(1, 100),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    plan=plans,
    amount=st.decimals("0.00000001", "1000", places=8),
    path=st.lists(st.decimals("0.5", "2", places=4), min_size=1, max_size=40),
)
def test_exits_never_sell_more_than_the_position(plan, amount, path):
    entry = Decimal("100")
    state, held, sold = exits.new_state(amount, entry), amount, Decimal("0")
    for minute, factor in enumerate(path):
        state, action = exits.evaluate(
            plan, state, entry=entry, open_amount=held, price=entry * factor, minutes_open=minute
        )
        if action is None:
            continue
        assert Decimal("0") <= action["amount"] <= held
        held -= action["amount"]
        sold += action["amount"]
        if action["kind"] == "take_profit":
            state["targets_filled"] = sorted({*state["targets_filled"], action["index"]})
    assert sold <= amount and held >= 0


# --- the assistant --------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_assistant_explains_exits_and_protections(user, price):
    from chat.services import answer

    bot = make_bot(user, tp1_at_pct=2, tp1_size_pct=50, trailing_stop_pct=2, cooldown_minutes=60)
    Bot.objects.filter(pk=bot.pk).update(name="Alpha Trader")
    reply = answer(user, "What are my exits on Alpha Trader?")["response"]
    assert "Exits for its next position: take profit 1: 50% of the position at +2%" in reply
    assert "trailing stop 2% below the high since entry" in reply and "cooldown after exit" in reply
    position = open_position(bot, price)
    assert at(price, bot, position, -2.5) == "traded"  # the trailing stop
    price.set(ENTRY)
    engine.tick_bot(bot.pk, AGAIN)
    reply = answer(user, "why didn't alpha trader buy?")["response"]
    assert "Entries are blocked now: Cooldown: 60 min after the last exit" in reply
    assert "Which bot?" in answer(user, "what are my exits?")["response"]
