"""Per-account SSE (/api/realtime/events?account=<id>): a stream carries only its trading account's orders, trades,
positions and P&L. Two paper accounts of one user and another user's account, with real orders placed on them."""

import json
import uuid
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from tests.realtime.conftest import SSEStream, publish, run, token_for
from wallets.models import ExchangeCredential
from wallets.services import accounts

pytestmark = pytest.mark.django_db(transaction=True)


def _account(user, name, platform="binance"):
    return str(accounts.create_account(user, name=name, platform=platform, trading_mode="paper").pk)


def _stream(user, account=None, headers=None):
    query = f"token={token_for(user)}" + (f"&account={account}" if account is not None else "")
    return SSEStream(query=query, headers=headers)


@sync_to_async
def _buy(user, account, amount="0.01"):
    order = accounts.place_account_order(user, account, symbol="BTC/USDT", side="buy", amount=Decimal(amount))
    return str(order.pk)


async def _until_pnl(stream):
    """The events of one market order on a per-account stream: its fill (trade_update, then the account's
    pnl_update) and then its order_update."""
    seen = await stream.events_until("order_update")
    return [e for e in seen if e["event"] != "pnl_update"] + [e for e in seen if e["event"] == "pnl_update"]


def test_unknown_foreign_and_malformed_accounts_are_404(user, other_user):
    theirs = _account(other_user, "Theirs")

    async def scenario():
        for account in (theirs, str(uuid.uuid4()), "not-an-id", "", "1 OR 1=1"):
            stream = await _stream(user, account).start()
            assert stream.status == 404, account
            body = json.loads(await stream.body())
            assert body["error_code"] == "NOT_FOUND" and body["success"] is False

    run(scenario)


def test_each_account_stream_carries_only_its_own_events(user, other_user):
    a = _account(user, "A")
    b = _account(user, "B")
    c = _account(other_user, "C")

    async def scenario():
        sa = await _stream(user, a).start()
        sb = await _stream(user, b).start()
        sc = await _stream(other_user, c).start()
        whole = await _stream(user).start()
        assert sa.status == sb.status == sc.status == whole.status == 200
        for stream, account in ((sa, a), (sb, b), (sc, c)):
            first = await stream.event()
            assert first["event"] == "pnl_update"
            assert first["data"]["type"] == "pnl" and first["data"]["scope"] == "trading_account"
            assert first["data"]["account_id"] == account and first["data"]["open_positions"] == 0
        assert (await whole.event())["event"] == "overview_update"

        order_a = await _buy(user, a)
        seen = await _until_pnl(sa)
        kinds = [e["event"] for e in seen]
        assert "order_update" in kinds and "trade_update" in kinds
        orders = [e["data"]["order"] for e in seen if e["event"] == "order_update"]
        assert {o["id"] for o in orders} == {order_a} and {o["account_id"] for o in orders} == {a}
        trades = [t for e in seen if e["event"] == "trade_update" for t in e["data"]["trades"]]
        assert trades and {t["account_id"] for t in trades} == {a}
        pnl = seen[-1]["data"]
        assert pnl["account_id"] == a and pnl["open_positions"] == 1 and pnl["currency"]
        # the user's whole stream has it too; B's and the other user's streams nothing
        assert any(e["event"] == "order_update" for e in await whole.events_until("order_update"))
        await sb.no_event(0.5)
        await sc.no_event(0.3)

        order_b = await _buy(user, b, "0.02")
        seen = await _until_pnl(sb)
        assert {e["data"]["order"]["id"] for e in seen if e["event"] == "order_update"} == {order_b}
        assert seen[-1]["data"]["account_id"] == b and seen[-1]["data"]["open_positions"] == 1

        order_c = await _buy(other_user, c)
        seen = await _until_pnl(sc)
        assert {e["data"]["order"]["id"] for e in seen if e["event"] == "order_update"} == {order_c}

        # An event of the user without an account (the default book) and one naming A under another user's feed:
        # neither reaches A's stream.
        trade = {"id": "t-default", "account_id": None, "symbol": "BTC/USDT", "profit_loss": 0.0}
        await publish(user.pk, "trade_executed", {"trade": trade})
        await publish(other_user.pk, "trade_executed", {"trade": {**trade, "id": "t-spoof", "account_id": a}})
        await publish(user.pk, "position_update", {"position": {"id": "p", "account_id": b}, "reason": "limits"})
        await sa.no_event(0.5)
        # the platform-wide trading switch reaches every stream
        await publish(user.pk, "trading_status", {"status": "stopped"})
        assert (await sa.event())["event"] == "trading_status"
        for stream in (sa, sb, sc, whole):
            await stream.close()

    run(scenario)


def test_resume_replays_only_the_accounts_events(user):
    a = _account(user, "A")
    b = _account(user, "B")

    async def scenario():
        await _buy(user, b)
        order_a = await _buy(user, a)
        stream = await _stream(user, a, headers={"Last-Event-ID": "0"}).start()
        seen = await _until_pnl(stream)
        orders = [e["data"]["order"] for e in seen if e["event"] == "order_update"]
        assert orders and {o["id"] for o in orders} == {order_a}
        trades = [t for e in seen if e["event"] == "trade_update" for t in e["data"]["trades"]]
        assert {t["account_id"] for t in trades} == {a}
        await stream.close()

    run(scenario)


def test_deleted_account_is_404(user):
    a = _account(user, "A")
    ExchangeCredential.objects.filter(pk=a).delete()

    async def scenario():
        stream = await _stream(user, a).start()
        assert stream.status == 404

    run(scenario)
