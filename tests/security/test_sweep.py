"""Security sweep over every operation in the OpenAPI schema.

- anonymous, tampered-JWT and expired-JWT requests to every non-public operation get 401 in the error schema;
- user B using user A's ids on every operation with a path parameter gets 404 (admin-only operations: 403), and nothing
  of A's changes;
- user B sending user A's ids in a request body (a stored key's credential_id, an assistant confirmation token) gets
  404, and nothing of A's changes;
- user B's list endpoints never contain anything of A's.
"""

import json
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework_simplejwt.tokens import AccessToken

from tests.helpers import assert_error, client_for

PUBLIC = {
    ("/api/system/ping", "get"),
    ("/api/system/platforms", "get"),
    ("/api/providers", "get"),
    ("/api/auth/register", "post"),
    ("/api/auth/login", "post"),
    ("/api/auth/refresh", "post"),
    ("/api/auth/logout", "post"),  # the refresh token in the body is the credential
    ("/api/auth/password/reset", "post"),
    ("/api/auth/password/reset/confirm", "post"),
    ("/api/health", "get"),
    ("/api/schema/", "get"),
    # A signal bot's webhook (bots.webhooks): TradingView and ChartInk cannot log in; the secret token in the path is
    # the credential (unknown token: 404). Its own security tests: tests/bots/test_webhooks.py.
    ("/api/webhooks/{token}", "post"),
}
ADMIN_PREFIX = "/api/admin/"
# Admin-only operations outside /api/admin/ (the issue names these paths): users get 403 as under the prefix.
ADMIN_PATHS = {"/api/system/start", "/api/system/stop", "/api/system/restart"}


def operations():
    spec = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in sorted(spec["paths"].items()):
        for method in sorted(item):
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method


OPERATIONS = list(operations())
PROTECTED = [(p, m) for p, m in OPERATIONS if (p, m) not in PUBLIC]
# Paths whose parameter is a name every user has (a configuration section), not an object id: each user reaches their
# own copy (test_named_sections_are_per_user), so there is no other user's id to try.
NAMED = {"/api/config/{section}"}
# A path whose parameter is a credential (a signal bot's webhook token), not an object id: no other user's id to try.
CREDENTIALS = {"/api/webhooks/{token}"}
WITH_PARAMS = [(p, m) for p, m in OPERATIONS if "{" in p and p not in NAMED | CREDENTIALS]


def _call(client, method, path, data=None):
    return getattr(client, method)(path, data if data is not None else {}, format="json")


def _owned_objects(owner):
    """One object of each user-owned kind for ``owner``, keyed by the URL prefix that addresses it."""
    from accounts.models import ApiKey
    from bots.models import Bot
    from trading.models import Order
    from wallets.services.credentials import create_credential

    bot = Bot.objects.create(
        user=owner,
        name="Alpha Trader",
        exchange="luno",
        symbol="BTC/ZAR",
        status="active",
        initial_capital=1000,
        current_capital=1000,
    )
    api_key, _raw = ApiKey.generate(owner, "owner key")
    order = Order.objects.create(
        user=owner,
        bot=bot,
        exchange="luno",
        symbol="BTC/ZAR",
        side="buy",
        type="limit",
        amount="0.001",
        price="1000",
        status="open",
        client_order_id=f"sweep-{uuid.uuid4()}",
        is_paper=True,
    )
    credential = create_credential(owner, "luno", "owner-api-key-1234", "owner-api-secret-5678", label="main")
    from wallets.services.transfers import request_transfer

    transfer = request_transfer(owner, "luno", "valr", Decimal("100"), "ZAR")
    from trading.models import Position

    position = Position.objects.create(
        user=owner, bot=bot, exchange="luno", symbol="BTC/ZAR", amount="0.001", entry_price="1000"
    )
    from bots.models import SupertrendExit

    # A Supertrend exit on it, so /api/positions/{id}/supertrend-exit has something of the owner's to (not) change.
    SupertrendExit.objects.create(user=owner, position=position, period=10, multiplier=Decimal("3"), timeframe="1h")
    from bots.models import StrategySignal
    from market.services import create_instrument

    instrument = create_instrument(owner, exchange="luno", symbol="BTC/ZAR", notes="owner-only watch note")
    signal = StrategySignal.objects.create(
        user=owner,
        bot=bot,
        bot_name=bot.name,
        exchange="luno",
        symbol="BTC/ZAR",
        strategy="momentum",
        trading_mode="paper",
        side="buy",
        entry_price=Decimal("1000"),
        confidence=Decimal("75.5"),
        reason="owner-only signal reason",
        outcome="traded",
        candle_ts=0,
    )
    from notifications.services.channels import create_channel

    channel, _secret = create_channel(owner, "webhook", "https://example.com/owner-hook", "owner hook")
    from research.models import Backtest

    backtest = Backtest.objects.create(
        user=owner,
        strategy="momentum",
        exchange="luno",
        symbol="BTC/ZAR",
        timeframe="1h",
        start="2026-01-01T00:00:00Z",
        end="2026-01-02T00:00:00Z",
        initial_capital=Decimal("1000"),
        fee_rate=Decimal("0.001"),
    )
    from ranking.models import Optimization

    optimization = Optimization.objects.create(
        user=owner,
        strategy="momentum",
        exchange="luno",
        symbol="BTC/ZAR",
        timeframe="1h",
        method="random",
        space={},
        trials=5,
        top_n=3,
        candles=200,
        in_sample_ratio=0.7,
        risk_mode="balanced",
        initial_capital=1000,
        status="completed",
    )
    from bots.models import WebhookEvent

    # A received alert, so GET /api/bots/{id}/webhooks has something of the owner's to (not) show another user.
    WebhookEvent.objects.create(
        user=owner, bot=bot, source="tradingview", action="buy", alert_key="k" * 64, outcome="ignored", code="paused"
    )
    from wallets.services.accounts import create_account

    # A paper trading account, with an order placed on it, so /api/accounts/{id}/... is tried cross-tenant.
    account = create_account(owner, name="Owner paper", platform="luno", trading_mode="paper")
    Order.objects.create(
        user=owner,
        account=account,
        exchange="luno",
        symbol="BTC/ZAR",
        side="buy",
        type="limit",
        amount="0.002",
        price="1000",
        status="open",
        client_order_id=f"sweep-acct-{uuid.uuid4()}",
        is_paper=True,
    )
    # An account group with a follower and a group order (mirror): paths with two ids take a tuple, in path order.
    from mirror.services import add_member, create_group, plan_group_order
    from wallets.models import ExchangeCredential

    paper = ExchangeCredential.objects.create(user=owner, platform="luno", label="owner paper", trading_mode="paper")
    group = create_group(owner, name="Owner group", primary_account_id=paper.pk)
    follower = ExchangeCredential.objects.create(user=owner, platform="valr", label="owner 2", trading_mode="paper")
    member = add_member(owner, group.pk, account_id=follower.pk, multiplier=Decimal("2"))
    group_order = plan_group_order(owner, group.pk, symbol="BTC/ZAR", side="buy", amount=Decimal("0.001"))
    return {
        "/api/account-groups/{group_id}/members/": (group.pk, member.pk),
        "/api/account-groups/": group.pk,
        "/api/group-orders/": group_order.pk,
        "/api/accounts/": account.pk,
        "/api/backtests/": backtest.pk,
        "/api/optimizations/": optimization.pk,
        "/api/positions/": position.pk,
        "/api/instruments/": instrument.pk,
        "/api/signals/": signal.pk,
        "/api/notifications/channels/": channel.pk,
        "/api/wallet/transfers/": transfer.pk,
        "/api/bots/": bot.pk,
        "/api/admin/bot/": bot.pk,
        "/api/auth/api-keys/": api_key.pk,
        "/api/orders/": order.pk,
        "/api/keys/": credential.pk,
    }


def _assert_owner_unchanged(owner, objects):
    """Nothing of the owner's changed: bot, API key, order and stored exchange key as _owned_objects made them."""
    from bots.models import Bot
    from trading.models import Order
    from wallets.models import ExchangeCredential

    bot = Bot.objects.get(pk=objects["/api/bots/"])
    assert bot.status == "active" and bot.name == "Alpha Trader" and bot.user_id == owner.pk
    owner_client = client_for(owner)
    assert owner_client.get("/api/auth/api-keys").json()["api_keys"][0]["active"] is True
    order = Order.objects.get(pk=objects["/api/orders/"])
    assert order.status == "open" and order.amount == Decimal("0.001") and order.price == Decimal("1000")
    credential = ExchangeCredential.objects.get(pk=objects["/api/keys/"])
    assert credential.label == "main" and credential.keys_valid is None and credential.user_id == owner.pk
    from trading.models import Position

    assert Position.objects.get(pk=objects["/api/positions/"]).is_open
    from bots.models import BotEvent, ExitPlan

    assert not ExitPlan.objects.filter(position_id=objects["/api/positions/"]).exists()
    from bots.models import SupertrendExit

    supertrend = SupertrendExit.objects.get(position_id=objects["/api/positions/"])
    assert (supertrend.period, supertrend.multiplier, supertrend.timeframe) == (10, Decimal("3"), "1h")
    assert not BotEvent.objects.filter(bot_id=objects["/api/bots/"]).exists()
    assert not Order.objects.filter(user=owner, side="sell").exists()
    from wallets.selectors import access_transfer

    assert access_transfer(owner, objects["/api/wallet/transfers/"]).current_status == "pending"
    from market.selectors import access_instrument

    instrument = access_instrument(owner, objects["/api/instruments/"])
    assert (instrument.symbol, instrument.notes, instrument.alert_above) == ("BTC/ZAR", "owner-only watch note", None)
    from notifications.models import Channel

    channel = Channel.objects.get(pk=objects["/api/notifications/channels/"])
    assert channel.enabled and channel.name == "owner hook" and channel.user_id == owner.pk
    assert channel.target == "https://example.com/owner-hook" and not channel.deliveries.exists()
    from research.models import Backtest

    account = ExchangeCredential.objects.get(pk=objects["/api/accounts/"])
    assert account.label == "Owner paper" and account.trading_mode == "paper" and account.user_id == owner.pk
    assert Order.objects.filter(account=account, status="open").count() == 1
    backtest = Backtest.objects.get(pk=objects["/api/backtests/"])
    assert backtest.status == "queued" and not backtest.cancel_requested and backtest.user_id == owner.pk
    from mirror.models import AccountGroup, GroupMember, GroupOrder

    group = AccountGroup.objects.get(pk=objects["/api/account-groups/"])
    assert group.enabled and group.name == "Owner group" and group.members.count() == 2
    member = GroupMember.objects.get(pk=objects["/api/account-groups/{group_id}/members/"][1])
    assert member.multiplier == Decimal("2") and member.enabled
    assert GroupOrder.objects.filter(user=owner).count() == 1


def _fill(path, objects):
    for prefix, pk in objects.items():
        if path.startswith(prefix):
            for value in pk if isinstance(pk, tuple) else (pk,):
                path = re.sub(r"\{[^}]+\}", str(value), path, count=1)
            return path
    raise AssertionError(f"the sweep does not know which object {path} addresses: add it to _owned_objects")


@pytest.mark.django_db
@pytest.mark.parametrize("path, method", PROTECTED)
def test_anonymous_and_bad_tokens_rejected(api_client, user, path, method):
    url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
    assert_error(_call(api_client, method, url), 401, "AUTH_REQUIRED")

    good = str(AccessToken.for_user(user))
    header, payload, signature = good.split(".")
    tampered = f"{header}.{payload}.{'A' * len(signature)}"
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    for token in (tampered, str(expired), "amk_not_a_real_key", "x" * 20):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert_error(_call(api_client, method, url), 401, "AUTH_INVALID")


@pytest.mark.django_db
@pytest.mark.parametrize("path, method", WITH_PARAMS)
def test_other_users_ids_are_not_found(user, other_user, path, method):
    objects = _owned_objects(user)
    url = _fill(path, objects)
    response = _call(client_for(other_user), method, url)
    if path.startswith(ADMIN_PREFIX):
        assert_error(response, 403, "PERMISSION_DENIED")
    else:
        assert_error(response, 404, "NOT_FOUND")
    _assert_owner_unchanged(user, objects)


@pytest.mark.django_db
def test_other_users_ids_in_bodies_are_not_found(user, other_user):
    from bots.models import Bot
    from chat import actions
    from chat.models import PendingAction

    objects = _owned_objects(user)
    bot = Bot.objects.get(pk=objects["/api/bots/"])
    token = actions.propose(user, PendingAction.PAUSE, [bot], "Pause Alpha Trader")["confirmation_token"]
    client = client_for(other_user)

    key_test = _call(client, "post", "/api/keys/test", {"credential_id": str(objects["/api/keys/"])})
    assert_error(key_test, 404, "NOT_FOUND")
    assert_error(_call(client, "post", "/api/ai/chat", {"confirm": token}), 404, "NOT_FOUND")
    choice = {"preferences": {"trade_executed": [str(objects["/api/notifications/channels/"])]}}
    assert_error(_call(client, "patch", "/api/notifications/preferences", choice), 404, "NOT_FOUND")
    confirm = _call(client, "post", "/api/commands/confirm", {"confirmation_token": token})
    assert_error(confirm, 404, "NOT_FOUND")

    _assert_owner_unchanged(user, objects)
    assert PendingAction.objects.get(user=user).consumed_at is None


@pytest.mark.django_db
def test_list_endpoints_show_nothing_of_other_users(user, other_user):
    from chat.models import ChatMessage
    from wallets.models import Transfer, TransferEvent

    objects = _owned_objects(user)
    transfer = Transfer.objects.create(
        user=user, from_provider="luno", to_provider="valr", currency="BTC", amount=Decimal("0.5")
    )
    TransferEvent.objects.create(transfer=transfer, status="pending", note="requested")
    ChatMessage.objects.create(user=user, role="user", content="owner-only chat message")
    from trading.models import Order, Trade

    order = Order.objects.get(pk=objects["/api/orders/"])
    trade = Trade.objects.create(  # so the trade lists, round trips and the CSV export have something to leak
        user=user,
        bot=order.bot,
        order=order,
        exchange="luno",
        symbol="BTC/ZAR",
        side="buy",
        amount="0.001",
        price="1000",
    )
    client_for(user).put("/api/config/risk", {"daily_loss_limit": 98765.43}, format="json")
    client_for(user).post("/api/trading/stop", {}, format="json")
    from chat.models import CommandRecord

    CommandRecord.objects.create(user=user, prompt="owner-only command prompt", status="rejected")
    secrets = {str(pk) for pk in objects.values()} | {
        "98765.43",
        str(trade.pk),
        user.email,
        str(transfer.pk),
        str(transfer.correlation_id),
        "owner-only chat message",
        "owner-only watch note",
        "owner-only signal reason",
        "owner-only command prompt",
    }
    client = client_for(other_user)
    for path, method in OPERATIONS:
        if method != "get" or "{" in path or path.startswith(ADMIN_PREFIX) or path in {"/api/schema/"}:
            continue
        response = client.get(path)
        if response.get("Content-Type", "").startswith("text/event-stream"):
            continue
        body = b"".join(response.streaming_content) if response.streaming else response.content  # the CSV export
        text = body.decode(errors="replace")
        leaked = [s for s in secrets if s in text]
        assert not leaked, (path, leaked)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, method", [(p, m) for p, m in OPERATIONS if p.startswith(ADMIN_PREFIX) or p in ADMIN_PATHS]
)
def test_admin_operations_forbidden_to_users(auth_client, path, method):
    url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
    assert_error(_call(auth_client, method, url), 403, "PERMISSION_DENIED")


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(NAMED))
def test_named_sections_are_per_user(user, other_user, path):
    """A configuration section named in the path is the caller's own: another user's write never shows, and writing
    one's own never touches theirs."""
    from bots.models import Bot

    owner, intruder = client_for(user), client_for(other_user)
    url = path.replace("{section}", "risk")
    assert owner.put(url, {"daily_loss_limit": 4321, "max_exposure": 999}, format="json").status_code == 200
    theirs = intruder.get(url).json()["values"]
    assert theirs["daily_loss_limit"] is None and theirs["max_exposure"] is None
    assert intruder.put(url, {"daily_loss_limit": 1}, format="json").status_code == 200
    assert owner.get(url).json()["values"]["daily_loss_limit"] == 4321.0
    # The kill switch and the export are per user as well.
    bot = Bot.objects.create(
        user=user,
        name="Owned",
        exchange="luno",
        symbol="BTC/ZAR",
        status="active",
        initial_capital=1000,
        current_capital=1000,
    )
    assert intruder.post("/api/trading/stop", {}, format="json").json()["trading"]["paused_bots"] == []
    assert Bot.objects.get(pk=bot.pk).status == "active"
    assert "Owned" not in json.dumps(intruder.post("/api/config/export").json())
