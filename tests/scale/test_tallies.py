"""The running trade tallies (trading.tallies) always equal a recount from the trades, and what reads them
(/api/metrics, the trade list's total, cursor paging) agrees with the trades themselves."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.models import Bot
from tests.helpers import client_for
from tests.scale.helpers import assert_tallies_match
from trading import tallies
from trading.models import Order, Trade, TradeTally

fills = st.lists(
    st.tuples(
        st.integers(0, 2),  # which book: bot 0, bot 1, or the user's own
        st.sampled_from(["buy", "sell"]),
        st.integers(-300, 300),  # P&L in cents (sells only)
        st.booleans(),  # delete bot 0 after this fill
    ),
    max_size=25,
)


def _trade(user, bot, side, cents):
    symbol = bot.symbol if bot else "ETH/ZAR"
    order = Order.objects.create(
        user=user,
        bot=bot,
        exchange="luno",
        symbol=symbol,
        side=side,
        type="market",
        amount=1,
        client_order_id=f"t-{Order.objects.count()}-{user.pk}",
    )
    pnl = Decimal(cents) / 100 if side == "sell" else Decimal("0")
    return Trade.objects.create(
        user=user,
        bot=bot,
        order=order,
        exchange="luno",
        symbol=symbol,
        side=side,
        amount=1,
        price=100,
        profit_loss=pnl,
    )


@pytest.mark.django_db
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fills=fills)
def test_tallies_match_a_recount(make_user, fills):
    user = make_user()
    bots = [
        Bot.objects.create(
            user=user, name=f"b{i}", exchange="luno", symbol="BTC/ZAR", initial_capital=100, current_capital=100
        )
        for i in range(2)
    ]
    for book, side, cents, delete in fills:
        bot = bots[book] if book < 2 else None
        if bot is not None and bot.pk is None:
            bot = None  # deleted: trade as the user's own
        _trade(user, bot, side, cents)
        if delete and bots[0].pk is not None:
            bots[0].delete()  # its trades and tallies lose their bot alike
    assert_tallies_match()
    before = {(r.user_id, r.bot_id, r.symbol): r.trades for r in TradeTally.objects.filter(user=user)}
    tallies.rebuild([user.pk])
    assert_tallies_match()
    # The rebuild folds a deleted bot's rows into the user's own book: the same sums.
    after = {(r.user_id, r.bot_id, r.symbol): r.trades for r in TradeTally.objects.filter(user=user)}
    assert sum(before.values()) == sum(after.values()) == Trade.objects.filter(user=user).count()


@pytest.mark.django_db
def test_metrics_and_trade_totals_read_the_tallies(make_user):
    user = make_user()
    bot = Bot.objects.create(
        user=user, name="b", exchange="luno", symbol="BTC/ZAR", initial_capital=100, current_capital=100
    )
    for side, cents in [("buy", 0), ("sell", 250), ("buy", 0), ("sell", -100), ("buy", 0), ("sell", 0)]:
        _trade(user, bot, side, cents)
    _trade(user, None, "buy", 0)
    _trade(user, None, "sell", 75)
    client = client_for(user)
    metrics = client.get("/api/metrics").json()["metrics"]
    assert metrics["win_rate"] == round(2 / 3 * 100, 2)  # 2 wins of 3 sells that realised P&L (one broke even)
    body = client.get("/api/trades").json()
    assert body["total"] == 8 and len(body["trades"]) == 8 and body["next_cursor"] is None
    assert client.get(f"/api/trades?bot_id={bot.pk}&side=sell").json()["total"] == 3
    assert client.get("/api/trades?symbol=ETH/ZAR").json()["total"] == 2
    assert client.get("/api/trades?from=2000-01-01").json()["total"] == 8  # dated: a count of the trades


@pytest.mark.django_db
def test_trade_cursor_pages_walk_the_whole_list(make_user):
    user = make_user()
    for i in range(7):
        _trade(user, None, "buy" if i % 2 == 0 else "sell", 10)
    client = client_for(user)
    expected = [t["id"] for t in client.get("/api/trades?limit=100").json()["trades"]]
    seen, cursor = [], None
    while True:
        body = client.get("/api/trades?limit=3" + (f"&cursor={cursor}" if cursor else "")).json()
        assert body["total"] == 7
        seen += [t["id"] for t in body["trades"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    # Offset still works, and gives the same rows as the cursor.
    assert [t["id"] for t in client.get("/api/trades?limit=3&offset=3").json()["trades"]] == expected[3:6]
    bad = client.get("/api/trades?cursor=nope")
    assert bad.status_code == 400 and bad.json()["error_code"] == "VALIDATION_ERROR"
    both = client.get(f"/api/trades?offset=1&cursor={body['next_cursor'] or 'x'}")
    assert both.status_code == 400


@pytest.mark.django_db
def test_admin_lists_page_by_cursor(make_user):
    admin = make_user(is_admin=True)
    users = [make_user() for _ in range(4)]
    for u in users:
        Bot.objects.create(user=u, name="b", exchange="luno", symbol="BTC/ZAR", initial_capital=1, current_capital=1)
    client = client_for(admin)
    everyone = [u["id"] for u in client.get("/api/admin/users").json()["users"]]
    assert len(everyone) == 5
    paged, cursor = [], None
    while True:
        body = client.get("/api/admin/users?limit=2" + (f"&cursor={cursor}" if cursor else "")).json()
        paged += [u["id"] for u in body["users"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert paged == everyone
    all_bots = client.get("/api/admin/bots").json()
    assert all_bots["total"] == 4 and "next_cursor" not in all_bots  # unpaged: the contract's shape
    first = client.get("/api/admin/bots?limit=3").json()
    assert first["total"] == 4 and len(first["bots"]) == 3
    rest = client.get(f"/api/admin/bots?limit=3&cursor={first['next_cursor']}").json()
    assert [b["id"] for b in first["bots"] + rest["bots"]] == [b["id"] for b in all_bots["bots"]]
    assert rest["next_cursor"] is None
