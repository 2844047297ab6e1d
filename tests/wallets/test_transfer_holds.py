"""A pending transfer reserves its amount where the orders draw from: on a paper account it is held (free -> used) under
the paper exchange's row lock, released when the transfer is canceled or fails, and sent to the destination's paper
account when it completes. Over the real API stack."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from amarktai.errors import ValidationFailed
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error, client_for
from trading.models import Order, PaperBalance
from wallets.models import Transfer
from wallets.services import transfers as transfer_service

pytestmark = pytest.mark.django_db


def transfer(client, **over):
    body = {"from_provider": "valr", "to_provider": "luno", "amount": 100000, "currency": "ZAR"}
    body.update(over)
    return client.post("/api/wallet/transfer", body, format="json")


def buy(client, amount="0.01", **over):
    body = {"exchange": "valr", "symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": amount}
    body.update(over)
    return client.post("/api/orders", body, format="json")


def balance(user, platform, currency="ZAR"):
    row = PaperBalance.objects.get(user=user, platform=platform, currency=currency)
    return row.free, row.used


def test_transfer_of_everything_leaves_nothing_to_buy_with(auth_client, user):
    """The reported case: all 100 000 ZAR asked out of VALR, then a market buy on VALR still filled."""
    assert transfer(auth_client).status_code == 200
    assert balance(user, "valr") == (Decimal(0), Decimal(100000))
    assert_error(buy(auth_client), 400, "INSUFFICIENT_FUNDS")
    assert not Order.objects.filter(user=user, status="closed").exists()
    assert balance(user, "valr") == (Decimal(0), Decimal(100000))


def test_limit_order_and_transfer_share_one_balance(auth_client, user):
    placed = buy(auth_client, amount="0.05", type="limit", price="1000000")  # rests below the market, reserves ~50 000
    assert placed.status_code == 201, placed.content
    free, used = balance(user, "valr")
    assert used > Decimal(50000) and free + used == Decimal(100000)
    assert_error(transfer(auth_client, amount=float(free) + 1), 400, "INSUFFICIENT_FUNDS")
    assert transfer(auth_client, amount=str(free)).status_code == 200
    assert balance(user, "valr") == (Decimal(0), Decimal(100000))


def test_cancel_releases_the_hold(auth_client, user):
    t_id = transfer(auth_client, amount=60000).json()["transfer"]["id"]
    assert balance(user, "valr") == (Decimal(40000), Decimal(60000))
    resp = auth_client.post(f"/api/wallet/transfers/{t_id}/cancel")
    assert resp.status_code == 200, resp.content
    assert resp.json()["transfer"]["status"] == "canceled" and resp.json()["transfer"]["id"] == t_id
    assert balance(user, "valr") == (Decimal(100000), Decimal(0))
    assert buy(auth_client).status_code == 201
    # Final: neither a second cancel nor a completion may move the money again.
    assert_error(auth_client.post(f"/api/wallet/transfers/{t_id}/cancel"), 409, "CONFLICT")
    assert_error(auth_client.post(f"/api/wallet/transfers/{t_id}/complete"), 409, "CONFLICT")
    assert PaperBalance.objects.get(user=user, platform="valr", currency="ZAR").used == 0


def test_failure_releases_and_completion_moves_the_money(auth_client, user):
    failed = transfer(auth_client, amount=30000).json()["transfer"]["id"]
    transfer_service.record_status(user, failed, "failed", "bank said no")
    assert balance(user, "valr") == (Decimal(100000), Decimal(0))

    done = transfer(auth_client, amount=25000).json()["transfer"]["id"]
    resp = auth_client.post(f"/api/wallet/transfers/{done}/complete")
    assert resp.status_code == 200 and resp.json()["transfer"]["status"] == "completed"
    assert balance(user, "valr") == (Decimal(75000), Decimal(0))
    assert balance(user, "luno") == (Decimal(125000), Decimal(0))  # the starting 100 000 plus the transfer
    statuses = {t["id"]: t["status"] for t in auth_client.get("/api/wallet/transfers").json()["transfers"]}
    assert statuses == {failed: "failed", done: "completed"}
    with pytest.raises(ValidationFailed):
        transfer_service.record_status(user, done, "pending")


def test_transfer_to_a_fresh_paper_account_keeps_its_starting_balance(auth_client, user):
    """The destination account is opened (starting balance) before the transfer is credited, not replaced by it."""
    t_id = transfer(auth_client, from_provider="luno", to_provider="valr", amount=5000).json()["transfer"]["id"]
    PaperBalance.objects.filter(user=user, platform="valr").delete()
    auth_client.post(f"/api/wallet/transfers/{t_id}/complete")
    assert balance(user, "valr") == (Decimal(105000), Decimal(0))


def test_cancel_and_complete_are_per_user(auth_client, other_client, user):
    t_id = transfer(auth_client, amount=1000).json()["transfer"]["id"]
    assert_error(other_client.post(f"/api/wallet/transfers/{t_id}/cancel"), 404, "NOT_FOUND")
    assert_error(other_client.post(f"/api/wallet/transfers/{t_id}/complete"), 404, "NOT_FOUND")
    assert balance(user, "valr") == (Decimal(99000), Decimal(1000))


def test_transfers_recorded_before_holds_still_count(auth_client, user):
    """A pending transfer from before holds existed (held=False) is not in "used": it still limits what can go out."""
    from wallets.models import TransferEvent

    legacy = Transfer.objects.create(
        user=user, from_provider="valr", to_provider="luno", currency="ZAR", amount=Decimal(70000)
    )
    TransferEvent.objects.create(transfer=legacy, status="pending", note="requested")
    auth_client.get("/api/wallet/balances")  # opens the paper accounts
    assert_error(transfer(auth_client, amount=30001), 400, "INSUFFICIENT_FUNDS")
    assert transfer(auth_client, amount=30000).status_code == 200
    transfer_service.cancel_transfer(user, legacy.pk)  # not held: nothing to release
    assert balance(user, "valr") == (Decimal(70000), Decimal(30000))


def test_live_transfer_refused_above_the_exchange_balance(auth_client, user, binance_via_fake):
    from accounts.models import User

    auth_client.post(
        "/api/keys",
        {"provider": "binance", "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET},
        format="json",
    )
    User.objects.filter(pk=user.pk).update(system_mode="live_trading")
    client = client_for(User.objects.get(pk=user.pk))
    body = {"from_provider": "binance", "to_provider": "luno", "currency": "USDT"}
    assert_error(transfer(client, **body, amount=10001), 400, "INSUFFICIENT_FUNDS")
    assert transfer(client, **body, amount=6000).status_code == 200
    assert_error(transfer(client, **body, amount=6000), 400, "INSUFFICIENT_FUNDS")  # 6 000 of 10 000 already pending
    assert Transfer.objects.get().held is False
    assert not PaperBalance.objects.filter(user=user, platform="binance", used__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_transfer_and_buy_never_overspend(user):
    """The transfer of everything and a market buy at the same moment: at most one of them gets the money."""
    client_for(user).get("/api/wallet/balances")  # open the paper accounts first
    barrier = threading.Barrier(2)
    results = {}

    def run(name, call):
        try:
            client = client_for(user)
            barrier.wait()
            results[name] = call(client).status_code
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("transfer", transfer)),
        threading.Thread(target=run, args=("buy", buy)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) in ([200, 400], [201, 400]), results
    row = PaperBalance.objects.get(user=user, platform="valr", currency="ZAR")
    assert row.free >= 0 and row.used >= 0
    pending = sum(t.amount for t in Transfer.objects.filter(user=user))
    assert row.free + row.used - pending >= 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_status_changes_move_the_money_once(user):
    """Two cancels and a completion of one transfer at the same moment: one wins, the others are told it is too late."""
    client_for(user).get("/api/wallet/balances")  # open the paper accounts first
    t_id = transfer(client_for(user), amount=40000).json()["transfer"]["id"]
    barrier = threading.Barrier(3)
    statuses = []

    def run(action):
        try:
            client = client_for(user)
            barrier.wait()
            statuses.append(client.post(f"/api/wallet/transfers/{t_id}/{action}").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in ("cancel", "complete", "cancel")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409], statuses
    events = list(Transfer.objects.get(pk=t_id).events.order_by("created_at", "id").values_list("status", flat=True))
    assert len(events) == 2 and events[0] == "pending"  # requested + exactly one change
    valr = PaperBalance.objects.get(user=user, platform="valr", currency="ZAR")
    luno = PaperBalance.objects.get(user=user, platform="luno", currency="ZAR")
    assert valr.used == 0 and luno.used == 0
    if events[1] == "canceled":
        assert (valr.free, luno.free) == (Decimal(100000), Decimal(100000))
    else:
        assert events[1] == "completed" and (valr.free, luno.free) == (Decimal(60000), Decimal(140000))
