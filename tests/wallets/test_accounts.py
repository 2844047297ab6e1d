"""Trading accounts (/api/accounts): CRUD and validation, tenancy (404 for another user's account), the connection
test against the fake Binance (live) and for paper accounts, funds / positions / orders per account, and an order on
account A never showing on account B."""

import uuid
from decimal import Decimal

import pytest

from accounts.models import User
from amarktai.errors import PermissionDenied
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error
from trading.exchanges import get_exchange
from trading.exchanges.paper import PaperExchange
from trading.models import Order, PaperBalance, PaperOrder
from trading.services import sync_open_orders
from wallets.models import ExchangeCredential

pytestmark = pytest.mark.django_db

SECRET = "acct-s3cr3t-never-shown"


def add(client, **over):
    body = {"name": "Family", "platform": "binance", "trading_mode": "paper"}
    body.update(over)
    return client.post("/api/accounts", body, format="json")


def account_id(client, **over):
    resp = add(client, **over)
    assert resp.status_code == 201, resp.content
    return resp.json()["account"]["id"]


def test_paper_account_crud(auth_client, user):
    resp = add(auth_client, starting_balance=2500)
    assert resp.status_code == 201, resp.content
    account = resp.json()["account"]
    assert set(account) == {
        "id",
        "name",
        "platform",
        "platform_name",
        "trading_mode",
        "quote_currency",
        "api_key",
        "has_passphrase",
        "testnet",
        "settings",
        "permissions",
        "health",
        "created_at",
    }
    assert account["name"] == "Family" and account["trading_mode"] == "paper" and account["api_key"] is None
    assert account["platform_name"] == "Binance" and account["quote_currency"] == "USDT"
    assert account["health"]["status"] == "ok" and account["health"]["keys_valid"] is True
    # Its own paper book, opened with the starting balance; the user's default book is untouched.
    funds = auth_client.get(f"/api/accounts/{account['id']}/funds").json()
    assert funds["success"] is True and funds["trading_mode"] == "paper"
    assert funds["balances"] == {"USDT": {"free": 2500.0, "used": 0.0, "total": 2500.0}}
    assert funds["total_value"] > 0 and funds["currency"]
    assert not PaperBalance.objects.filter(user=user, account__isnull=True).exists()
    # several accounts on one platform, and on another
    second = account_id(auth_client, name="Client 2")
    third = account_id(auth_client, name="Luno paper", platform="luno")
    listing = auth_client.get("/api/accounts").json()["accounts"]
    assert [a["name"] for a in listing] == ["Family", "Client 2", "Luno paper"]
    assert [a["id"] for a in auth_client.get("/api/accounts?platform=luno").json()["accounts"]] == [third]
    assert len(auth_client.get("/api/accounts?trading_mode=live").json()["accounts"]) == 0
    default_funds = auth_client.get(f"/api/accounts/{second}/funds").json()["balances"]
    assert default_funds["USDT"]["total"] == 10000.0  # PAPER_STARTING_BALANCES
    # paper accounts are not API keys
    assert auth_client.get("/api/keys").json()["keys"] == []
    assert_error(auth_client.get(f"/api/keys/{second}"), 404, "NOT_FOUND")
    # rename, detail, delete
    renamed = auth_client.patch(f"/api/accounts/{second}", {"name": "Client Two"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["account"]["name"] == "Client Two"
    assert auth_client.get(f"/api/accounts/{second}").json()["account"]["name"] == "Client Two"
    assert auth_client.delete(f"/api/accounts/{second}").json() == {"success": True, "message": "Account deleted"}
    assert_error(auth_client.get(f"/api/accounts/{second}"), 404, "NOT_FOUND")
    assert not PaperBalance.objects.filter(account_id=second).exists()


def test_validation(auth_client):
    assert_error(add(auth_client, name=""), 400, "VALIDATION_ERROR")
    assert_error(add(auth_client, name="   "), 400, "VALIDATION_ERROR")
    assert_error(add(auth_client, platform="nope"), 400, "VALIDATION_ERROR")
    assert_error(add(auth_client, trading_mode="demo"), 400, "VALIDATION_ERROR")
    assert_error(add(auth_client, starting_balance=True), 400, "VALIDATION_ERROR")  # strict numbers
    assert_error(add(auth_client, starting_balance=-1), 400, "VALIDATION_ERROR")
    body = assert_error(add(auth_client, api_key="KEY-1234"), 400, "VALIDATION_ERROR")
    assert "api_key" in body["details"]
    body = assert_error(add(auth_client, trading_mode="live"), 400, "VALIDATION_ERROR")
    assert "api_key" in body["details"]
    body = assert_error(
        add(auth_client, trading_mode="live", api_key="K-1", api_secret="S", starting_balance=5),
        400,
        "VALIDATION_ERROR",
    )
    assert "starting_balance" in body["details"]
    paper = account_id(auth_client)
    assert_error(auth_client.patch(f"/api/accounts/{paper}", {}, format="json"), 400, "VALIDATION_ERROR")
    body = assert_error(
        auth_client.patch(f"/api/accounts/{paper}", {"api_key": "K"}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert "api_key" in body["details"]
    assert_error(auth_client.get("/api/accounts?trading_mode=x"), 400, "VALIDATION_ERROR")
    assert ExchangeCredential.objects.count() == 1


def test_tenancy(auth_client, other_client, user, other_user):
    mine = account_id(auth_client)
    theirs = account_id(other_client, name="Theirs")
    assert [a["id"] for a in auth_client.get("/api/accounts").json()["accounts"]] == [mine]
    for path in ("", "/funds", "/positions", "/orders"):
        assert_error(auth_client.get(f"/api/accounts/{theirs}{path}"), 404, "NOT_FOUND")
    assert_error(auth_client.post(f"/api/accounts/{theirs}/test"), 404, "NOT_FOUND")
    assert_error(auth_client.patch(f"/api/accounts/{theirs}", {"name": "x"}, format="json"), 404, "NOT_FOUND")
    assert_error(
        auth_client.post(f"/api/accounts/{theirs}/orders", {"symbol": "BTC/USDT"}, format="json"), 404, "NOT_FOUND"
    )
    assert_error(auth_client.delete(f"/api/accounts/{theirs}"), 404, "NOT_FOUND")
    assert ExchangeCredential.objects.get(pk=theirs).label == "Theirs"
    # get_exchange refuses another user's account
    other = ExchangeCredential.objects.get(pk=theirs)
    with pytest.raises(PermissionDenied):
        get_exchange(user, "binance", "paper", credential=other)


def test_live_account_connection_test_against_the_fake(auth_client, binance_via_fake):
    binance_via_fake.add_account("KEY-BAD-0001", "secret", {"USDT": "1"})
    live = account_id(auth_client, name="Main", trading_mode="live", api_key=DEFAULT_KEY, api_secret=DEFAULT_SECRET)
    account = auth_client.get(f"/api/accounts/{live}").json()["account"]
    assert account["health"]["status"] == "untested" and account["api_key"] == f"****{DEFAULT_KEY[-4:]}"
    resp = auth_client.post(f"/api/accounts/{live}/test")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["ok"] is True and body["message"] == "Connection successful"
    assert body["account"]["health"]["status"] == "ok" and body["account"]["health"]["last_checked_at"]
    # wrong secret: failing, with the reason; a later good key fixes it
    bad = account_id(
        auth_client, name="Revoked", trading_mode="live", api_key=DEFAULT_KEY, api_secret="wrong-" + SECRET
    )
    body = auth_client.post(f"/api/accounts/{bad}/test").json()
    assert body["success"] is True and body["ok"] is False and body["message"]
    assert body["account"]["health"]["status"] == "failing" and body["account"]["health"]["last_error"]
    funds = auth_client.get(f"/api/accounts/{live}/funds").json()
    assert funds["trading_mode"] == "live" and funds["balances"]["USDT"]["total"] == 10000.0
    assert funds["balances"]["BTC"]["total"] == 0.5
    # exchange down: unreachable, validity unknown
    binance_via_fake.stop()
    body = auth_client.post(f"/api/accounts/{live}/test").json()
    assert body["ok"] is False and body["account"]["health"]["status"] == "unreachable"
    for content in (body, auth_client.get("/api/accounts").json()):
        text = str(content)
        assert DEFAULT_SECRET not in text and SECRET not in text and DEFAULT_KEY not in text


def test_paper_account_connection_test(auth_client):
    paper = account_id(auth_client)
    ExchangeCredential.objects.filter(pk=paper).update(keys_valid=None, last_checked_at=None)
    assert auth_client.get(f"/api/accounts/{paper}").json()["account"]["health"]["status"] == "untested"
    body = auth_client.post(f"/api/accounts/{paper}/test").json()
    assert body["ok"] is True and body["message"] == "Paper account ready" and body["permissions"] is None
    assert body["account"]["health"]["status"] == "ok"


def _order(client, account, **over):
    body = {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": 0.01}
    body.update(over)
    return client.post(f"/api/accounts/{account}/orders", body, format="json")


def test_orders_positions_and_funds_per_paper_account(auth_client, user):
    a = account_id(auth_client, name="A")
    b = account_id(auth_client, name="B")
    resp = _order(auth_client, a, client_order_id="a-1")
    assert resp.status_code == 201, resp.content
    order = resp.json()["order"]
    assert order["account_id"] == a and order["status"] == "closed" and order["is_paper"] is True
    assert _order(auth_client, a, client_order_id="a-1").json()["order"]["id"] == order["id"]  # retry: nothing new
    # Account A's book paid for it, B's and the default book did not.
    funds_a = auth_client.get(f"/api/accounts/{a}/funds").json()["balances"]
    funds_b = auth_client.get(f"/api/accounts/{b}/funds").json()["balances"]
    assert funds_a["BTC"]["total"] == 0.01 and funds_a["USDT"]["total"] < 10000
    assert "BTC" not in funds_b and funds_b["USDT"]["total"] == 10000.0
    assert not PaperBalance.objects.filter(user=user, account__isnull=True).exists()
    # orders and positions per account
    orders_a = auth_client.get(f"/api/accounts/{a}/orders").json()
    assert [o["id"] for o in orders_a["orders"]] == [order["id"]] and orders_a["total"] == 1
    assert auth_client.get(f"/api/accounts/{b}/orders").json()["orders"] == []
    assert auth_client.get(f"/api/accounts/{a}/orders?status=open").json()["total"] == 0
    positions_a = auth_client.get(f"/api/accounts/{a}/positions").json()
    assert [(p["symbol"], p["amount"], p["account_id"]) for p in positions_a["positions"]] == [("BTC/USDT", 0.01, a)]
    assert positions_a["positions"][0]["trading_mode"] == "paper"
    assert auth_client.get(f"/api/accounts/{b}/positions").json()["positions"] == []
    trade = Order.objects.get(pk=order["id"]).trades.get()
    assert str(trade.account_id) == a
    # The same on B makes a separate position; A's is unchanged.
    assert _order(auth_client, b, amount=0.02).status_code == 201
    assert auth_client.get(f"/api/accounts/{a}/positions").json()["positions"][0]["amount"] == 0.01
    assert auth_client.get(f"/api/accounts/{b}/positions").json()["positions"][0]["amount"] == 0.02
    # The user's whole positions list holds both, each with its account.
    assert {p["account_id"] for p in auth_client.get("/api/positions").json()["positions"]} == {a, b}
    # A resting limit order on A keeps A from being deleted; canceled, A goes (its position too must be closed).
    limit = _order(auth_client, a, type="limit", price=1000).json()["order"]
    assert limit["status"] == "open"
    assert PaperOrder.objects.get(client_order_id=Order.objects.get(pk=limit["id"]).client_order_id).account_id == (
        uuid.UUID(a)
    )
    # The open-order sync (beat, every 15 s) finds it on A's book: still open, not "never reached the exchange".
    assert sync_open_orders() >= 1
    assert Order.objects.get(pk=limit["id"]).status == "open"
    assert_error(auth_client.delete(f"/api/accounts/{a}"), 409, "CONFLICT")
    assert auth_client.post(f"/api/orders/{limit['id']}/cancel").json()["order"]["status"] == "canceled"
    assert_error(auth_client.delete(f"/api/accounts/{a}"), 409, "CONFLICT")  # the open position
    position = auth_client.get(f"/api/accounts/{a}/positions").json()["positions"][0]
    closed = auth_client.post(f"/api/positions/{position['id']}/close", format="json")
    assert closed.status_code == 200, closed.content
    assert auth_client.get(f"/api/accounts/{a}/positions").json()["positions"] == []
    assert Order.objects.filter(account_id=a, side="sell").count() == 1  # closed on A, not on the default book
    assert auth_client.delete(f"/api/accounts/{a}").status_code == 200
    assert Order.objects.filter(pk=order["id"], account__isnull=True).exists()  # history stays


def test_order_validation_and_same_client_id_on_another_account(auth_client):
    a = account_id(auth_client, name="A")
    b = account_id(auth_client, name="B")
    assert_error(_order(auth_client, a, amount="1_0"), 400, "VALIDATION_ERROR")
    assert_error(_order(auth_client, a, side="hold"), 400, "VALIDATION_ERROR")
    assert_error(_order(auth_client, a, symbol="NOPE/USDT"), 400, "VALIDATION_ERROR")
    assert_error(_order(auth_client, a, type="limit"), 400, "VALIDATION_ERROR")  # no price
    assert _order(auth_client, a, client_order_id="same").status_code == 201
    assert_error(_order(auth_client, b, client_order_id="same"), 409, "CONFLICT")
    assert auth_client.get(f"/api/accounts/{b}/orders").json()["total"] == 0


def test_live_account_orders_on_the_fake_stay_on_their_account(auth_client, user, binance_via_fake):
    binance_via_fake.add_account("KEY-SECOND-0002", "second-secret", {"USDT": "500"})
    a = account_id(auth_client, name="A", trading_mode="live", api_key=DEFAULT_KEY, api_secret=DEFAULT_SECRET)
    b = account_id(auth_client, name="B", trading_mode="live", api_key="KEY-SECOND-0002", api_secret="second-secret")
    # testing mode: a live account does not trade
    body = assert_error(_order(auth_client, a), 400, "VALIDATION_ERROR")
    assert "account_id" in body["details"]
    User.objects.filter(pk=user.pk).update(system_mode="live_trading", two_factor_enabled=True)
    resp = _order(auth_client, a, amount=0.001)
    assert resp.status_code == 201, resp.content
    order = resp.json()["order"]
    assert order["account_id"] == a and order["is_paper"] is False
    assert [o["id"] for o in auth_client.get(f"/api/accounts/{a}/orders").json()["orders"]] == [order["id"]]
    assert auth_client.get(f"/api/accounts/{b}/orders").json()["orders"] == []
    funds_b = auth_client.get(f"/api/accounts/{b}/funds").json()["balances"]
    assert funds_b["USDT"]["total"] == 500.0 and "BTC" not in funds_b
    assert auth_client.get(f"/api/accounts/{a}/funds").json()["balances"]["BTC"]["total"] == pytest.approx(0.501)


def test_get_exchange_paper_account_and_default_book(user):
    account = ExchangeCredential.objects.create(user=user, platform="binance", label="P", trading_mode="paper")
    on_account = get_exchange(user, "binance", "live", credential=account)  # a paper account is paper whatever the mode
    assert isinstance(on_account, PaperExchange) and on_account.account == account
    default = get_exchange(user, "binance", "paper")
    assert isinstance(default, PaperExchange) and default.account is None
    on_account.fund(Decimal("42"))
    assert on_account.fetch_balance()["USDT"]["total"] == Decimal("42")
    assert default.fetch_balance()["USDT"]["total"] == Decimal("10000")
    with pytest.raises(PermissionDenied):
        get_exchange(user, "luno", "paper", credential=account)  # not this platform's account


def test_api_key_scopes(auth_client, user):
    """An API key may list and read accounts (read) and trade on one (trade); creating, changing, testing and deleting
    an account (it holds exchange keys) needs a password session."""
    from rest_framework.test import APIClient

    from accounts.models import ApiKey

    paper = account_id(auth_client)
    _key, reader_raw = ApiKey.generate(user, "reader", scopes=["read"])
    _key, trader_raw = ApiKey.generate(user, "trader", scopes=["read", "trade"])
    reader, trader = APIClient(), APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {reader_raw}")
    trader.credentials(HTTP_AUTHORIZATION=f"Bearer {trader_raw}")
    assert [a["id"] for a in reader.get("/api/accounts").json()["accounts"]] == [paper]
    for path in ("", "/funds", "/positions", "/orders"):
        assert reader.get(f"/api/accounts/{paper}{path}").status_code == 200, path
    assert_error(_order(reader, paper), 403, "PERMISSION_DENIED")
    assert _order(trader, paper).status_code == 201
    for client in (reader, trader):
        assert_error(add(client), 403, "PERMISSION_DENIED")
        assert_error(client.patch(f"/api/accounts/{paper}", {"name": "x"}, format="json"), 403, "PERMISSION_DENIED")
        assert_error(client.post(f"/api/accounts/{paper}/test"), 403, "PERMISSION_DENIED")
        assert_error(client.delete(f"/api/accounts/{paper}"), 403, "PERMISSION_DENIED")
    assert ExchangeCredential.objects.get(pk=paper).label == "Family"


def test_idempotency_key_on_create_and_order(auth_client):
    first = auth_client.post(
        "/api/accounts", {"name": "Once", "platform": "luno"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = auth_client.post(
        "/api/accounts", {"name": "Once", "platform": "luno"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["account"]["id"] == again.json()["account"]["id"]
    assert ExchangeCredential.objects.count() == 1
    account = first.json()["account"]["id"]
    body = {"symbol": "BTC/ZAR", "side": "buy", "amount": 0.001}
    one = auth_client.post(f"/api/accounts/{account}/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="o-1")
    two = auth_client.post(f"/api/accounts/{account}/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="o-1")
    assert one.status_code == two.status_code == 201 and one.json()["order"]["id"] == two.json()["order"]["id"]
    assert Order.objects.filter(account_id=account).count() == 1
