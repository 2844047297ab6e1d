"""Group orders over paper accounts (each its own paper book; two exchanges), and the exactly-once guarantee under
two workers executing the same group order at once (PostgreSQL: run with DATABASE_URL pointing at it)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from mirror import services
from mirror.models import GroupOrderChild
from mirror.payloads import group_order_payload
from trading.models import Order, PaperOrder
from wallets.models import ExchangeCredential

D = Decimal


def paper_account(user, platform, label):
    return ExchangeCredential.objects.create(user=user, platform=platform, label=label, trading_mode="paper")


def paper_group(user):
    primary = paper_account(user, "binance", "paper main")
    follower = paper_account(user, "binance", "paper half")
    other = paper_account(user, "kucoin", "paper kucoin")
    group = services.create_group(user, name="Paper desk", primary_account_id=primary.pk)
    services.add_member(user, group.pk, account_id=follower.pk, multiplier=D("0.5"))
    services.add_member(user, group.pk, account_id=other.pk, multiplier=D("3"))
    return group, primary, follower, other


@pytest.mark.django_db
def test_three_paper_accounts_on_two_exchanges(user):
    group, primary, follower, other = paper_group(user)
    go = services.place_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"))
    body = group_order_payload(go)
    assert body["status"] == "filled", body
    by_account = {c["account_id"]: c for c in body["children"]}
    assert by_account[str(primary.pk)]["amount"] == 0.01
    assert by_account[str(follower.pk)]["amount"] == 0.005
    assert by_account[str(other.pk)]["amount"] == 0.03
    # each order is recorded on its own account, on its own paper book
    for account in (primary, follower, other):
        order = Order.objects.get(account=account)
        assert order.is_paper and order.exchange == account.platform and order.status == "closed"
    assert PaperOrder.objects.filter(user=user).count() == 3


@pytest.mark.django_db
def test_paper_split_at_the_freeze_quantity(user):
    """The paper exchange's BTC freeze quantity is 5 BTC: a 12 BTC order on an account with enough funds goes out as
    5 + 5 + 2."""
    from trading.models import PaperBalance

    primary = paper_account(user, "kraken", "paper whale")
    group = services.create_group(user, name="Whale", primary_account_id=primary.pk)
    PaperBalance.objects.update_or_create(
        user=user, platform="kraken", account=primary, currency="USD", defaults={"free": D("10000000")}
    )
    go = services.place_group_order(user, group.pk, symbol="BTC/USD", side="buy", amount=D("12"))
    children = list(GroupOrderChild.objects.filter(group_order=go).order_by("slice_index"))
    assert [c.amount for c in children] == [D("5"), D("5"), D("2")]
    assert all(c.order.status == "closed" for c in children)
    assert PaperOrder.objects.filter(user=user).count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_place_every_child_once(user):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs row locks: run with DATABASE_URL=postgres://...")
    group, *_ = paper_group(user)
    go = services.plan_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"))
    assert GroupOrderChild.objects.filter(group_order=go, state="pending").count() == 3
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait()
            services.execute_group_order(go.pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert GroupOrderChild.objects.filter(group_order=go, state="placed").count() == 3
    assert Order.objects.filter(user=user).count() == 3
    assert PaperOrder.objects.filter(user=user).count() == 3
    # a third, late retry finds everything placed and sends nothing
    services.execute_group_order(go.pk)
    assert PaperOrder.objects.filter(user=user).count() == 3


@pytest.mark.django_db
def test_a_crashed_group_order_is_resumed_once(user):
    from datetime import timedelta

    from django.utils import timezone

    group, *_ = paper_group(user)
    go = services.plan_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"))
    assert services.resume_pending() == 0  # too recent: its own request is still placing it
    GroupOrderChild.objects.filter(group_order=go).update(created_at=timezone.now() - timedelta(minutes=5))
    assert services.resume_pending() == 1
    assert GroupOrderChild.objects.filter(group_order=go, state="placed").count() == 3
    assert services.resume_pending() == 0
    assert PaperOrder.objects.filter(user=user).count() == 3


@pytest.mark.django_db
def test_order_update_per_child_and_group_order_update(user, monkeypatch, django_capture_on_commit_callbacks):
    from realtime import events

    sent = []
    monkeypatch.setattr(events, "_send", lambda user_id, kind, payload: sent.append((user_id, kind, payload)))
    group, primary, follower, other = paper_group(user)
    from trading.models import PaperBalance

    PaperBalance.objects.update_or_create(
        user=user, platform="kucoin", account=other, currency="USDT", defaults={"free": D("1")}
    )
    with django_capture_on_commit_callbacks(execute=True):
        go = services.place_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"))
    updates = [p["order"] for _, kind, p in sent if kind == events.ORDER_UPDATE]
    placed = [o for o in updates if o.get("account_id") in (str(primary.pk), str(follower.pk))]
    assert {o["account_id"] for o in placed} == {str(primary.pk), str(follower.pk)}
    short = [o for o in updates if o.get("account_id") == str(other.pk)]
    assert len(short) == 1 and short[0]["status"] == "rejected" and short[0]["group_order_id"] == str(go.pk)
    assert short[0]["reason"].startswith("skipped: insufficient funds")
    (group_update,) = [p["group_order"] for _, kind, p in sent if kind == events.GROUP_ORDER_UPDATE]
    assert group_update["status"] == "partial" and len(group_update["children"]) == 3
    assert all(user_id == user.pk for user_id, _, _ in sent)
