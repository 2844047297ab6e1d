"""GET /api/orders lists each order with the parts it was split into (a market's maximum, a broker's freeze quantity),
each part with its own status and reason, in a constant number of queries; another user's orders never appear."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trading.models import Order

pytestmark = pytest.mark.django_db


def order(user, cid, parent=None, status="closed", amount="10", filled="10", reason=""):
    return Order.objects.create(
        user=user,
        parent=parent,
        exchange="openalgo",
        symbol="RELIANCE/INR",
        side="buy",
        type="market",
        amount=Decimal(amount),
        filled=Decimal(filled),
        status=status,
        client_order_id=cid,
        is_paper=False,
        reason=reason,
    )


def split(user, prefix, parts=2):
    parent = order(user, f"{prefix}-parent", amount=str(10 * parts), filled="10", status="closed")
    order(user, f"{prefix}-a", parent=parent)
    for i in range(1, parts):
        order(user, f"{prefix}-{i}", parent=parent, status="rejected", filled="0", reason="RMS: margin exceeded")
    return parent


def test_a_split_order_lists_its_parts(auth_client, user, other_user):
    parent = split(user, "mine")
    single = order(user, "single")
    split(other_user, "theirs")
    body = auth_client.get("/api/orders").json()
    by_id = {o["id"]: o for o in body["orders"]}
    assert set(by_id) >= {str(parent.pk), str(single.pk)}
    assert all(o["exchange"] == "openalgo" and not o["client_order_id"].startswith("theirs") for o in body["orders"])
    parts = by_id[str(parent.pk)]["children"]
    assert [(p["status"], p["reason"]) for p in parts] == [("closed", ""), ("rejected", "RMS: margin exceeded")]
    assert all(p["parent_id"] == str(parent.pk) for p in parts)
    assert "children" not in by_id[str(single.pk)]


def test_listing_split_orders_takes_the_same_queries_for_more_of_them(auth_client, user):
    split(user, "one")
    auth_client.get("/api/orders")  # the signed-in user is cached from here on
    with CaptureQueriesContext(connection) as few:
        auth_client.get("/api/orders")
    for n in range(5):
        split(user, f"more{n}", parts=3)
    with CaptureQueriesContext(connection) as many:
        body = auth_client.get("/api/orders").json()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert sum(len(o.get("children", [])) for o in body["orders"]) == 2 + 5 * 3


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["closed", "rejected"], "closed"),  # done: one part filled, the other refused (its reason stays on it)
        (["closed", "open"], "open"),  # a part still works at the exchange
        (["rejected", "canceled"], "canceled"),
        (["rejected", "rejected"], "rejected"),
        (["closed", "closed"], "closed"),
    ],
)
def test_a_split_order_ends_when_its_parts_end(user, parts, expected):
    from trading.services import _roll_up

    parent = order(user, "parent", amount="20", filled="0", status="open")
    for i, status in enumerate(parts):
        order(user, f"part{i}", parent=parent, status=status, filled="10" if status == "closed" else "0")
    _roll_up(parent)
    parent.refresh_from_db()
    assert parent.status == expected
    assert parent.filled == Decimal(10 * parts.count("closed"))
