"""The order-status poller (trading.poller) against the fake Binance with the real ccxt client: fills, partial fills
and exchange-side cancels are seen, booked once and published with the account; a failing account backs off while
the others go on; accounts are polled in batches, one open-orders request per account and market."""

import time
from decimal import Decimal

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from realtime import events
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from trading import poller, services
from trading.exchanges import get_exchange
from trading.models import Order, Position, Trade
from trading.tasks import sync_open_orders
from wallets.services.credentials import create_credential

pytestmark = pytest.mark.django_db

OPEN_ORDERS = ("GET", "/api/v3/openOrders")
ONE_ORDER = ("GET", "/api/v3/order")


@pytest.fixture
def published(monkeypatch):
    sent = []
    real = events.publish

    def spy(user_id, kind, payload):
        sent.append((user_id, kind, payload))
        real(user_id, kind, payload)

    monkeypatch.setattr(events, "publish", spy)
    return sent


@pytest.fixture
def fake(binance_via_fake, settings):
    binance_via_fake.set_price("BTCUSDT", 50000)
    binance_via_fake.set_price("ETHUSDT", 3000)
    settings.ORDER_POLL_BACKOFF_BASE_SECONDS = 10
    settings.ORDER_POLL_BACKOFF_MAX_SECONDS = 60
    return binance_via_fake


def account(user, fake, n=0, label="main"):
    key, secret = (DEFAULT_KEY, DEFAULT_SECRET) if n == 0 else (f"key-{n:04d}", f"secret-{n:04d}-abcdefghijklmnop")
    if n:
        fake.add_account(key, secret, {"USDT": "10000", "BTC": "1", "ETH": "10"})
    return create_credential(user, "binance", key, secret, label=label)


def rest(user, cred, symbol="BTC/USDT", side="buy", amount="0.01", price="40000"):
    """A limit order resting on the exchange (below the market for a buy), placed on ``cred``."""
    exchange = get_exchange(user, "binance", "live", credential=cred)
    with transaction.atomic():
        order = services.place_order(
            user,
            exchange,
            symbol=symbol,
            side=side,
            type="limit",
            amount=Decimal(amount),
            price=Decimal(price),
            is_paper=False,
        )
    Order.objects.filter(pk=order.pk).update(account=cred)
    order.refresh_from_db()
    assert order.status == "open" and order.exchange_order_id
    return order


def poll_round():
    """One beat round, as the task runs it (eager in tests: the batches run inline)."""
    return sync_open_orders()


def updates(published, order):
    return [p for _, kind, p in published if kind == "order_update" and p["order"]["id"] == str(order.pk)]


def test_an_order_filled_at_the_exchange_is_seen_filled_booked_and_published(user, fake, published):
    cred = account(user, fake)
    order = rest(user, cred)
    poll_round()
    assert Order.objects.get(pk=order.pk).status == "open" and not Trade.objects.exists()  # still resting
    published.clear()

    fake.fill_order(order.exchange_order_id)
    before = fake.count(*ONE_ORDER)
    poll_round()
    order.refresh_from_db()
    assert order.status == "closed" and order.filled == Decimal("0.01") and order.average == Decimal("40000")
    trade = Trade.objects.get(order=order)
    assert (trade.amount, trade.price, trade.is_paper, trade.price_source) == (
        Decimal("0.01"),
        Decimal("40000"),
        False,
        "exchange",
    )
    position = Position.objects.get(user=user, symbol="BTC/USDT", is_open=True)
    assert position.amount == Decimal("0.01") and position.entry_price == Decimal("40000")
    # It left the open list, so one lookup of that order told how it ended.
    assert fake.count(*ONE_ORDER) == before + 1
    [update] = updates(published, order)
    assert update["change"] == "filled" and update["previous_status"] == "open"
    assert update["order"]["status"] == "closed" and update["order"]["account_id"] == str(cred.pk)
    assert any(kind == "trade_executed" for _, kind, _ in published)

    # Polling again books nothing twice and asks nothing: the account has no open live order left.
    calls = len(fake.requests)
    poll_round()
    assert Trade.objects.filter(order=order).count() == 1 and len(fake.requests) == calls


def test_a_partial_fill_is_booked_and_published_then_the_rest(user, fake, published):
    cred = account(user, fake)
    order = rest(user, cred, amount="0.01")
    published.clear()
    fake.fill_order(order.exchange_order_id, qty="0.004")
    poll_round()
    order.refresh_from_db()
    assert order.status == "open" and order.filled == Decimal("0.004")
    [partial] = updates(published, order)
    assert partial["change"] == "partially_filled" and partial["order"]["filled"] == 0.004
    # Still open at the exchange: the open-orders row said so, no single-order lookup was needed.
    assert fake.count(*ONE_ORDER) == 0
    poll_round()  # nothing new: no event, no trade
    assert len(updates(published, order)) == 1 and Trade.objects.filter(order=order).count() == 1

    fake.fill_order(order.exchange_order_id)
    poll_round()
    order.refresh_from_db()
    assert order.status == "closed" and order.filled == Decimal("0.01")
    assert [t.amount for t in Trade.objects.filter(order=order).order_by("created_at")] == [
        Decimal("0.004"),
        Decimal("0.006"),
    ]
    assert [u["change"] for u in updates(published, order)] == ["partially_filled", "filled"]


@pytest.mark.parametrize(
    "status,expected", [("CANCELED", "canceled"), ("EXPIRED", "canceled"), ("REJECTED", "rejected")]
)
def test_an_order_ended_at_the_exchange_is_seen_and_published(user, fake, published, status, expected):
    cred = account(user, fake)
    order = rest(user, cred)
    published.clear()
    fake.end_order(order.exchange_order_id, status)
    poll_round()
    order.refresh_from_db()
    assert order.status == expected and not Trade.objects.exists()
    [update] = updates(published, order)
    assert update["change"] == expected and update["order"]["account_id"] == str(cred.pk)


def test_a_failing_account_backs_off_while_the_others_go_on(user, other_user, fake, published):
    good = account(user, fake, 1, "good")
    bad = account(other_user, fake, 2, "revoked")
    good_order, bad_order = rest(user, good), rest(other_user, bad)
    del fake.accounts["key-0002"]  # the keys were revoked at the exchange: every call of that account fails
    fake.fill_order(good_order.exchange_order_id)

    poll_round()
    good_order.refresh_from_db()
    bad_order.refresh_from_db()
    assert good_order.status == "closed" and bad_order.status == "open"
    bad_key = poller.AccountKey(str(other_user.pk), "binance", str(bad.pk))
    state = poller.backoff_state(bad_key)
    assert state["failures"] == 1 and "AuthInvalid" in state["error"] and DEFAULT_SECRET not in state["error"]
    assert 8 < state["until"] - time.time() <= 10
    assert poller.backing_off(bad_key)
    # The owner hears of it once (an alert naming the account), the other user nothing.
    alerts = [(uid, p) for uid, kind, p in published if kind == "alert"]
    assert len(alerts) == 1 and alerts[0][0] == other_user.pk
    assert alerts[0][1]["kind"] == "order_poll" and alerts[0][1]["account_id"] == str(bad.pk)
    assert "revoked" in alerts[0][1]["message"] and DEFAULT_SECRET not in alerts[0][1]["message"]

    # While it backs off, no round (in any worker: the state is in the cache) asks the exchange for it.
    calls = fake.count(*OPEN_ORDERS)
    assert poller.plan_batches() == []
    poll_round()
    assert poller.poll_account(bad_key) == 0
    assert fake.count(*OPEN_ORDERS) == calls

    # Due again and failing again: the wait doubles; capped at the maximum.
    from django.core.cache import cache

    cache.set(poller._backoff_key(bad_key), {**state, "until": time.time() - 1}, 600)
    assert poller.plan_batches() == [[str(bad_key)]]
    poll_round()
    state = poller.backoff_state(bad_key)
    assert state["failures"] == 2 and 18 < state["until"] - time.time() <= 20
    assert len([kind for _, kind, _ in published if kind == "alert"]) == 1  # not again on every failure
    assert [poller.backoff_delay(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]

    # The keys work again: the next due poll syncs it and clears the back-off.
    fake.add_account("key-0002", "secret-0002-abcdefghijklmnop", {"USDT": "10000"})
    fake.orders[int(bad_order.exchange_order_id)]["_key"] = fake.accounts["key-0002"]
    cache.set(poller._backoff_key(bad_key), {**state, "until": time.time() - 1}, 600)
    poll_round()
    assert poller.backoff_state(bad_key) is None
    assert Order.objects.get(pk=bad_order.pk).status == "open"


def test_accounts_are_polled_in_batches_one_open_orders_call_per_account_and_market(
    make_user, fake, settings, published
):
    settings.ORDER_POLL_BATCH_SIZE = 2
    orders = []
    for n in range(1, 6):
        owner = make_user()
        cred = account(owner, fake, n, f"acct {n}")
        orders.append(rest(owner, cred))
        if n == 1:  # one account with two markets and two orders on one of them
            orders.append(rest(owner, cred, price="39000"))
            orders.append(rest(owner, cred, symbol="ETH/USDT", amount="0.1", price="2000"))
    published.clear()
    batches = poller.plan_batches()
    assert [len(b) for b in batches] == [2, 2, 1]
    assert len({key for batch in batches for key in batch}) == 5

    for order in orders:
        fake.fill_order(order.exchange_order_id)
    before_open, before_one = fake.count(*OPEN_ORDERS), fake.count(*ONE_ORDER)
    assert poll_round() == 3  # no paper order; three batches sent
    assert Order.objects.filter(status="closed").count() == len(orders) == Trade.objects.count()
    assert fake.count(*OPEN_ORDERS) - before_open == 6  # 5 accounts, one of them on two markets
    assert fake.count(*ONE_ORDER) - before_one == len(orders)  # one lookup per order that left the open list
    assert {u["order"]["id"] for _, kind, u in published if kind == "order_update" and u["change"] == "filled"} == {
        str(o.pk) for o in orders
    }


def test_the_least_recently_synced_accounts_come_first_and_the_round_is_capped(make_user, fake, settings):
    settings.ORDER_POLL_MAX_ACCOUNTS = 2
    settings.ORDER_POLL_BATCH_SIZE = 10
    keys = []
    for n in range(1, 4):
        owner = make_user()
        cred = account(owner, fake, n)
        order = rest(owner, cred)
        Order.objects.filter(pk=order.pk).update(updated_at=order.updated_at.replace(year=2020, minute=59 - n))
        keys.append(str(poller.AccountKey(str(owner.pk), "binance", str(cred.pk))))
    assert poller.plan_batches() == [[keys[2], keys[1]]]


def test_poll_lag_is_in_prometheus(user, fake):
    cred = account(user, fake)
    order = rest(user, cred)
    Order.objects.filter(pk=order.pk).update(updated_at=order.updated_at.replace(year=order.updated_at.year - 1))
    before = REGISTRY.get_sample_value("amarktai_order_poll_order_lag_seconds_count") or 0
    poll_round()
    assert REGISTRY.get_sample_value("amarktai_order_poll_lag_seconds", {"exchange": "binance"}) > 86400 * 300
    assert REGISTRY.get_sample_value("amarktai_order_poll_order_lag_seconds_count") == before + 1
    assert REGISTRY.get_sample_value("amarktai_order_polls_total", {"exchange": "binance", "outcome": "ok"}) >= 1
    poll_round()  # synced a moment ago: the lag is back to seconds
    assert REGISTRY.get_sample_value("amarktai_order_poll_lag_seconds", {"exchange": "binance"}) < 60


def test_the_poller_goes_through_the_exchange_rate_limiter(make_user, fake, settings):
    """Every call goes through the adapter's per-platform limiter: 6 calls at 10 a second with no burst take at least
    half a second (a lower bound only: a loaded machine is slower, never faster)."""
    settings.EXCHANGE_RATE_LIMITS = {"binance": (10, 1)}
    for n in range(1, 7):
        owner = make_user()
        rest(owner, account(owner, fake, n))
    from trading.exchanges import ccxt_adapter

    ccxt_adapter.reset_buckets()
    before = fake.count(*OPEN_ORDERS)
    started = time.monotonic()
    poll_round()
    assert fake.count(*OPEN_ORDERS) - before == 6
    assert time.monotonic() - started >= 0.5


def test_an_order_the_exchange_never_got_is_looked_up_by_client_id(user, fake):
    """An order row written before a crash, never sent: its client id is unknown at the exchange; after a minute it
    is rejected, as the per-order sync always did."""
    cred = account(user, fake)
    order = Order.objects.create(
        user=user,
        account=cred,
        exchange="binance",
        symbol="BTC/USDT",
        side="buy",
        type="limit",
        amount=Decimal("0.01"),
        price=Decimal("40000"),
        is_paper=False,
        client_order_id="amk-never-sent",
    )
    poll_round()
    assert Order.objects.get(pk=order.pk).status == "open"
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at.replace(year=2020))
    poll_round()
    assert Order.objects.get(pk=order.pk).status == "rejected"


@pytest.mark.django_db(transaction=True)
def test_two_workers_polling_one_account_book_a_fill_once(user, fake):
    """Two workers poll the same account at once (a slow round overlapping the next): the order row lock and the fill
    increment mean one trade, one filled order."""
    import threading

    from django.db import connection

    cred = account(user, fake)
    order = rest(user, cred)
    fake.fill_order(order.exchange_order_id)
    key = poller.AccountKey(str(user.pk), "binance", str(cred.pk))
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait(timeout=10)
            poller.poll_account(key)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    order.refresh_from_db()
    assert order.status == "closed" and Trade.objects.filter(order=order).count() == 1
    assert Position.objects.get(user=user, is_open=True).amount == Decimal("0.01")


def test_an_order_without_an_account_is_polled_with_the_users_keys(user, fake, published):
    """Orders placed before trading accounts existed (no account): the user's credential for the platform polls them,
    under an account key of their own."""
    cred = account(user, fake)
    order = rest(user, cred)
    Order.objects.filter(pk=order.pk).update(account=None)
    assert poller.plan_batches() == [[f"{user.pk}:binance:-"]]
    fake.fill_order(order.exchange_order_id)
    poll_round()
    order.refresh_from_db()
    assert order.status == "closed" and Trade.objects.filter(order=order).count() == 1
    assert updates(published, order)[-1]["order"]["account_id"] is None
