"""Safe retries of POST /api/orders: a client-supplied client_order_id and the Idempotency-Key header. A client that
timed out and sends the same request again never places a second order."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import IdempotencyRecord
from tests.helpers import assert_error, client_for
from trading.models import Order, PaperOrder

pytestmark = pytest.mark.django_db

ORDER = {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": "0.001"}


def place(client, key=None, **over):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/orders", {**ORDER, **over}, format="json", **headers)


# --- client_order_id ------------------------------------------------------------------------------------------------


def test_client_order_id_retry_places_one_order(auth_client, user):
    first = place(auth_client, client_order_id="my-order-1")
    assert first.status_code == 201, first.content
    again = place(auth_client, client_order_id="my-order-1")
    assert again.status_code == 201
    assert again.json()["order"]["id"] == first.json()["order"]["id"]
    assert Order.objects.filter(user=user).count() == 1 and PaperOrder.objects.filter(user=user).count() == 1
    assert place(auth_client, client_order_id="my-order-2").json()["order"]["id"] != first.json()["order"]["id"]


def test_client_order_id_reused_for_another_order_is_a_conflict(auth_client, user):
    assert place(auth_client, client_order_id="abc").status_code == 201
    body = assert_error(place(auth_client, client_order_id="abc", amount="0.002"), 409, "CONFLICT")
    assert "client_order_id" in body["details"]
    assert_error(place(auth_client, client_order_id="abc", side="sell"), 409, "CONFLICT")
    assert Order.objects.filter(user=user).count() == 1


def test_client_order_ids_are_per_user(auth_client, other_client, user, other_user):
    """Another user's id is neither shared nor revealed: the same id is a fresh order for each user."""
    mine = place(auth_client, client_order_id="shared-id")
    theirs = place(other_client, client_order_id="shared-id", amount="0.002")
    assert mine.status_code == 201 and theirs.status_code == 201, theirs.content
    assert mine.json()["order"]["id"] != theirs.json()["order"]["id"]
    stored = {o.user_id: o.client_order_id for o in Order.objects.all()}
    assert stored[user.pk] != stored[other_user.pk] and "shared-id" not in stored.values()


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "semi;colon", "ümlaut"])
def test_client_order_id_validated(auth_client, bad):
    body = assert_error(place(auth_client, client_order_id=bad), 400, "VALIDATION_ERROR")
    assert "client_order_id" in body["details"]
    assert Order.objects.count() == 0


# --- Idempotency-Key ------------------------------------------------------------------------------------------------


def test_same_key_same_body_replays_the_first_answer(auth_client, user):
    first = place(auth_client, key="k-1")
    assert first.status_code == 201
    again = place(auth_client, key="k-1")
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Order.objects.filter(user=user).count() == 1 and PaperOrder.objects.filter(user=user).count() == 1
    # Key order and spacing of the JSON body do not matter.
    reordered = auth_client.post(
        "/api/orders", dict(reversed(list(ORDER.items()))), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert reordered.status_code == 201 and reordered.json() == first.json()


def test_same_key_different_body_is_a_conflict(auth_client, user):
    assert place(auth_client, key="k-2").status_code == 201
    body = assert_error(place(auth_client, key="k-2", amount="0.002"), 409, "CONFLICT")
    assert "Idempotency-Key" in body["details"]
    # ... and so is the same key on another endpoint.
    transfer = {"from_provider": "luno", "to_provider": "valr", "amount": 10, "currency": "ZAR"}
    assert_error(
        auth_client.post("/api/wallet/transfer", transfer, format="json", HTTP_IDEMPOTENCY_KEY="k-2"), 409, "CONFLICT"
    )
    assert Order.objects.filter(user=user).count() == 1


def test_keys_are_per_user(auth_client, other_client):
    mine, theirs = place(auth_client, key="same"), place(other_client, key="same")
    assert mine.status_code == 201 and theirs.status_code == 201
    assert mine.json()["order"]["id"] != theirs.json()["order"]["id"]
    assert not theirs.has_header("Idempotent-Replayed")


def test_failed_requests_are_not_kept(auth_client, user):
    """A failure changed nothing; the same key may try again (and succeed once the cause is gone)."""
    assert_error(place(auth_client, key="k-3", amount="1000"), 400, "INSUFFICIENT_FUNDS")
    assert not IdempotencyRecord.objects.filter(user=user).exists()
    assert_error(place(auth_client, key="k-4", symbol="DOGE/ZAR"), 400, "VALIDATION_ERROR")
    assert not IdempotencyRecord.objects.exists()
    assert place(auth_client, key="k-3", amount="0.001").status_code == 201


def test_keys_expire_after_24_hours(auth_client, user):
    assert place(auth_client, key="old").status_code == 201
    IdempotencyRecord.objects.filter(user=user).update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    again = place(auth_client, key="old")
    assert again.status_code == 201 and not again.has_header("Idempotent-Replayed")
    assert Order.objects.filter(user=user).count() == 2
    assert IdempotencyRecord.objects.filter(user=user).count() == 1  # the expired record was purged


@pytest.mark.parametrize("bad", ["", "has space", "k" * 256])
def test_bad_keys_are_refused(auth_client, bad):
    assert_error(place(auth_client, key=bad), 400, "VALIDATION_ERROR")
    assert Order.objects.count() == 0


def test_header_documented_in_the_schema(auth_client):
    schema = auth_client.get("/api/schema/?format=json").json()
    for path in ("/api/orders", "/api/wallet/transfer"):
        params = schema["paths"][path]["post"].get("parameters", [])
        header = [p for p in params if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        assert header and not header[0].get("required", False), path
        assert header[0]["schema"]["pattern"] == "^[!-~]{1,255}$"


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_place_one_order(user):
    """Four copies of one request with one key at the same moment: one order, and every copy gets its answer."""
    barrier = threading.Barrier(4)
    answers = []

    def send():
        try:
            client = client_for(user)
            barrier.wait()
            response = place(client, key="burst")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Order.objects.filter(user=user).count() == 1
    assert PaperOrder.objects.filter(user=user).count() == 1
    assert [status for status, _ in answers] == [201] * 4, answers
    assert len({body["order"]["id"] for _, body in answers}) == 1
