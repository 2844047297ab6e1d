"""Group orders against the fake Binance: one order mirrored to three accounts with multipliers and lot rounding, a
follower with revoked keys failing alone, a split above the freeze quantity, the funds check (skip, all-or-nothing),
exactly-once retries, and the API (tenancy, Idempotency-Key)."""

from decimal import Decimal

import pytest

from amarktai.errors import Conflict
from mirror import services
from mirror.models import GroupOrderChild
from mirror.payloads import group_order_payload
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error
from trading.models import Order
from wallets.services.credentials import create_credential

pytestmark = pytest.mark.django_db
D = Decimal
ORDER_PATH = "/api/v3/order"


@pytest.fixture
def accounts(user, binance_via_fake):
    """Three binance accounts on the fake: the primary (the fake's default key) and two followers."""
    fake = binance_via_fake
    fake.set_price("BTCUSDT", "20000")
    fake.add_account("FOLLOWER-KEY-0001", "follower-secret-1", {"USDT": "100000", "BTC": "1"})
    fake.add_account("FOLLOWER-KEY-0002", "follower-secret-2", {"USDT": "100000", "BTC": "1"})
    primary = create_credential(user, "binance", DEFAULT_KEY, DEFAULT_SECRET, label="main")
    half = create_credential(user, "binance", "FOLLOWER-KEY-0001", "follower-secret-1", label="family")
    double = create_credential(user, "binance", "FOLLOWER-KEY-0002", "follower-secret-2", label="client")
    return fake, primary, half, double


@pytest.fixture
def group(user, accounts):
    _fake, primary, half, double = accounts
    group = services.create_group(user, name="Family", primary_account_id=primary.pk)
    services.add_member(user, group.pk, account_id=half.pk, multiplier=D("0.5"))
    services.add_member(user, group.pk, account_id=double.pk, multiplier=D("2.5"))
    return group


def _children(group_order):
    return {c.account_label.split(" ")[0]: c for c in GroupOrderChild.objects.filter(group_order=group_order)}


def test_one_order_mirrored_to_three_accounts_with_multipliers_and_lot_rounding(user, accounts, group):
    fake = accounts[0]
    go = services.place_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.012345"))
    children = _children(go)
    # Binance's step for BTC is 0.00001: 0.012345 -> 0.01234; x0.5 = 0.0061725 -> 0.00617; x2.5 -> 0.03086
    assert children["main"].amount == D("0.01234")
    assert children["family"].amount == D("0.00617")
    assert children["client"].amount == D("0.03086")
    for child in children.values():
        assert child.state == "placed" and child.order.status == "closed" and child.order.filled == child.amount
        assert child.order.is_paper is False and child.order.client_order_id == child.client_order_id
    assert fake.count("POST", ORDER_PATH) == 3
    body = group_order_payload(go)
    assert body["status"] == "filled"
    assert body["accounts_filled"] == ["client (binance)", "family (binance)", "main (binance)"]


def test_a_follower_with_revoked_keys_fails_alone(user, accounts, group):
    fake = accounts[0]
    fake.accounts.pop("FOLLOWER-KEY-0001")  # the exchange revoked the follower's keys
    go = services.place_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"))
    children = _children(go)
    assert children["family"].state == "failed" and children["family"].error_code == "AUTH_INVALID"
    assert children["family"].order is None
    assert children["main"].order.status == "closed" and children["client"].order.status == "closed"
    body = group_order_payload(go)
    assert body["status"] == "partial"
    assert body["accounts_failed"] == ["family (binance)"]
    assert fake.count("POST", ORDER_PATH) == 2


def test_an_order_above_the_freeze_quantity_is_split(user, accounts, group):
    fake = accounts[0]
    market = list(fake.markets["BTCUSDT"])
    market[5] = "0.05"  # LOT_SIZE / MARKET_LOT_SIZE maxQty: the freeze quantity
    fake.markets["BTCUSDT"] = tuple(market)
    go = services.place_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.04"))
    rows = list(GroupOrderChild.objects.filter(group_order=go, account_label__startswith="client"))
    # 0.04 x 2.5 = 0.1 -> two slices of 0.05
    assert [c.amount for c in sorted(rows, key=lambda c: c.slice_index)] == [D("0.05"), D("0.05")]
    assert len({c.client_order_id for c in rows}) == 2
    assert all(c.order.status == "closed" for c in rows)
    assert fake.count("POST", ORDER_PATH) == 4  # main 0.04, family 0.02, client 2 x 0.05


def test_margin_shortfall_skips_the_short_account(user, accounts, group):
    fake = accounts[0]
    fake.accounts["FOLLOWER-KEY-0002"]["balances"]["USDT"][0] = D("100")  # 0.025 BTC at 20000 needs 500 + fee
    go = services.place_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"))
    children = _children(go)
    assert children["client"].state == "skipped" and children["client"].error_code == "INSUFFICIENT_FUNDS"
    assert "fees included" in children["client"].error
    assert children["main"].order.status == "closed" and children["family"].order.status == "closed"
    assert fake.count("POST", ORDER_PATH) == 2


def test_margin_shortfall_all_or_nothing_refuses_everything(user, accounts, group):
    fake = accounts[0]
    # Exactly the cost without the fee: the fee makes it short.
    fake.accounts["FOLLOWER-KEY-0001"]["balances"]["USDT"][0] = D("100")
    with pytest.raises(Exception) as caught:
        services.place_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"), all_or_nothing=True)
    assert caught.value.error_code == "INSUFFICIENT_FUNDS"
    assert "family (binance)" in caught.value.details
    assert fake.count("POST", ORDER_PATH) == 0
    assert not Order.objects.exists()


def test_a_retry_places_nothing_twice(user, accounts, group):
    fake = accounts[0]
    first = services.place_group_order(
        user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"), client_order_id="retry-1"
    )
    again = services.place_group_order(
        user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"), client_order_id="retry-1"
    )
    services.execute_group_order(first.pk)  # the task retried
    assert again.pk == first.pk
    assert fake.count("POST", ORDER_PATH) == 3 and Order.objects.count() == 3
    with pytest.raises(Conflict):  # the same id for another order
        services.place_group_order(
            user, group.pk, symbol="BTC/USDT", side="sell", amount=D("0.01"), client_order_id="retry-1"
        )


def test_api_crud_orders_and_idempotency(user, auth_client, accounts):
    fake, primary, half, _double = accounts
    resp = auth_client.post("/api/account-groups", {"name": "Desk", "primary_account_id": primary.pk}, format="json")
    assert resp.status_code == 201, resp.content
    group = resp.json()["group"]
    assert [m["is_primary"] for m in group["members"]] == [True]
    resp = auth_client.post(
        f"/api/account-groups/{group['id']}/members",
        {"account_id": half.pk, "multiplier": "0.5", "max_order_value": "1000"},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    member = resp.json()["member"]
    assert member["multiplier"] == 0.5 and member["max_order_value"] == 1000.0
    dup = auth_client.post(f"/api/account-groups/{group['id']}/members", {"account_id": half.pk}, format="json")
    assert_error(dup, 409, "CONFLICT")
    patched = auth_client.patch(
        f"/api/account-groups/{group['id']}/members/{member['id']}", {"multiplier": "0.25"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["member"]["multiplier"] == 0.25
    listing = auth_client.get("/api/account-groups").json()
    assert listing["total"] == 1 and len(listing["groups"][0]["members"]) == 2

    url = f"/api/account-groups/{group['id']}/orders"
    body = {"symbol": "BTC/USDT", "side": "buy", "amount": "0.02"}
    resp = auth_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="group-order-1")
    assert resp.status_code == 201, resp.content
    go = resp.json()["group_order"]
    assert go["status"] == "filled" and len(go["children"]) == 2
    assert {c["amount"] for c in go["children"]} == {0.02, 0.005}
    replay = auth_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="group-order-1")
    assert replay.status_code == 201 and replay.json()["group_order"]["id"] == go["id"]
    assert fake.count("POST", ORDER_PATH) == 2

    detail = auth_client.get(f"/api/group-orders/{go['id']}").json()["group_order"]
    assert detail["children"][0]["is_primary"] is True and detail["children"][0]["order_id"]
    page = auth_client.get("/api/group-orders", {"group_id": group["id"]}).json()
    assert page["total"] == 1 and page["group_orders"][0]["id"] == go["id"]

    assert auth_client.delete(f"/api/account-groups/{group['id']}/members/{member['id']}").status_code == 200
    primary_member = group["members"][0]["id"]
    assert_error(
        auth_client.delete(f"/api/account-groups/{group['id']}/members/{primary_member}"), 400, "VALIDATION_ERROR"
    )
    assert auth_client.delete(f"/api/account-groups/{group['id']}").status_code == 200
    assert auth_client.get(f"/api/group-orders/{go['id']}").status_code == 200  # the history stays


def test_api_tenancy(user, other_client, auth_client, accounts, group):
    _fake, primary, _half, _double = accounts
    go = services.place_group_order(user, group.pk, symbol="BTC/USDT", side="buy", amount=D("0.01"))
    member = group.members.exclude(is_primary=True).first()
    for path in (f"/api/account-groups/{group.pk}", f"/api/group-orders/{go.pk}"):
        assert_error(other_client.get(path), 404, "NOT_FOUND")
    assert_error(other_client.delete(f"/api/account-groups/{group.pk}"), 404, "NOT_FOUND")
    assert_error(
        other_client.patch(f"/api/account-groups/{group.pk}/members/{member.pk}", {"enabled": False}, format="json"),
        404,
        "NOT_FOUND",
    )
    assert_error(
        other_client.post(
            f"/api/account-groups/{group.pk}/orders",
            {"symbol": "BTC/USDT", "side": "buy", "amount": "1"},
            format="json",
        ),
        404,
        "NOT_FOUND",
    )
    # another user's account can be neither a primary nor a member
    assert_error(
        other_client.post("/api/account-groups", {"name": "x", "primary_account_id": primary.pk}, format="json"),
        404,
        "NOT_FOUND",
    )
    assert other_client.get("/api/account-groups").json()["groups"] == []
    assert other_client.get("/api/group-orders").json()["group_orders"] == []
    member.refresh_from_db()
    assert member.enabled is True


def test_api_key_scopes(user, auth_client, accounts, group):
    """A read key reads groups and group orders; a trade key also sends group orders; changing a group (which
    accounts trade, and how much) needs a password session."""
    from rest_framework.test import APIClient

    from accounts.models import ApiKey

    _key, reader_raw = ApiKey.generate(user, "reader", scopes=["read"])
    _key, trader_raw = ApiKey.generate(user, "trader", scopes=["read", "trade"])
    reader, trader = APIClient(), APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {reader_raw}")
    trader.credentials(HTTP_AUTHORIZATION=f"Bearer {trader_raw}")
    assert reader.get("/api/account-groups").json()["total"] == 1
    assert reader.get(f"/api/account-groups/{group.pk}").status_code == 200
    order = {"symbol": "BTC/USDT", "side": "buy", "amount": "0.01"}
    assert_error(reader.post(f"/api/account-groups/{group.pk}/orders", order, format="json"), 403, "PERMISSION_DENIED")
    assert trader.post(f"/api/account-groups/{group.pk}/orders", order, format="json").status_code == 201
    assert reader.get("/api/group-orders").json()["total"] == 1
    member = group.members.exclude(is_primary=True).first()
    for client in (reader, trader):
        assert_error(
            client.patch(f"/api/account-groups/{group.pk}", {"enabled": False}, format="json"), 403, "PERMISSION_DENIED"
        )
        assert_error(
            client.patch(f"/api/account-groups/{group.pk}/members/{member.pk}", {"multiplier": "9"}, format="json"),
            403,
            "PERMISSION_DENIED",
        )
        assert_error(
            client.post("/api/account-groups", {"name": "k", "primary_account_id": str(accounts[1].pk)}, format="json"),
            403,
            "PERMISSION_DENIED",
        )
        assert_error(client.delete(f"/api/account-groups/{group.pk}"), 403, "PERMISSION_DENIED")
    member.refresh_from_db()
    assert member.multiplier == D("0.5")


def test_changing_the_primary_and_the_schema(user, auth_client, accounts, group):
    _fake, primary, half, _double = accounts
    resp = auth_client.patch(f"/api/account-groups/{group.pk}", {"primary_account_id": str(half.pk)}, format="json")
    assert resp.status_code == 200, resp.content
    members = resp.json()["group"]["members"]
    assert (members[0]["account_id"], members[0]["is_primary"]) == (str(half.pk), True)
    assert sum(m["is_primary"] for m in members) == 1 and len(members) == 3
    old = next(m for m in members if m["account_id"] == str(primary.pk))
    assert old["is_primary"] is False and old["multiplier"] == 1.0
    assert_error(
        auth_client.patch(
            f"/api/account-groups/{group.pk}/members/{members[0]['id']}", {"multiplier": "2"}, format="json"
        ),
        400,
        "VALIDATION_ERROR",
    )
    schema = auth_client.get("/api/schema/?format=json").json()
    post = schema["paths"]["/api/account-groups/{group_id}/orders"]["post"]
    assert any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert "201" in post["responses"]
    assert {"/api/group-orders", "/api/group-orders/{group_order_id}", "/api/account-groups/{group_id}/members"} <= set(
        schema["paths"]
    )
