"""POST /api/wallet/transfer honours the Idempotency-Key header: a retried request records (and holds) one transfer."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from tests.helpers import assert_error, client_for
from trading.models import PaperBalance
from wallets.models import Transfer

pytestmark = pytest.mark.django_db

BODY = {"from_provider": "luno", "to_provider": "valr", "amount": 2500, "currency": "ZAR", "reason": "rebalance"}


def send(client, key, **over):
    return client.post("/api/wallet/transfer", {**BODY, **over}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_retry_records_one_transfer(auth_client, user):
    first = send(auth_client, "t-1")
    assert first.status_code == 200, first.content
    again = send(auth_client, "t-1")
    assert again.status_code == 200 and again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Transfer.objects.filter(user=user).count() == 1
    row = PaperBalance.objects.get(user=user, platform="luno", currency="ZAR")
    assert row.used == Decimal(2500)  # held once
    assert send(auth_client, "t-2").json()["transfer"]["id"] != first.json()["transfer"]["id"]
    assert Transfer.objects.filter(user=user).count() == 2


def test_same_key_other_body_is_a_conflict(auth_client, user):
    assert send(auth_client, "t-3").status_code == 200
    assert_error(send(auth_client, "t-3", amount=2501), 409, "CONFLICT")
    assert_error(send(auth_client, "t-3", to_provider="binance"), 409, "CONFLICT")
    assert Transfer.objects.filter(user=user).count() == 1


def test_no_key_no_deduplication(auth_client, user):
    for _ in range(2):
        assert auth_client.post("/api/wallet/transfer", BODY, format="json").status_code == 200
    assert Transfer.objects.filter(user=user).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_record_one_transfer(user):
    barrier = threading.Barrier(3)
    answers = []

    def run():
        try:
            client = client_for(user)
            barrier.wait()
            response = send(client, "burst")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200] * 3, answers
    assert len({body["transfer"]["id"] for _, body in answers}) == 1
    assert Transfer.objects.filter(user=user).count() == 1
