"""A bot's initial_capital is allocated from its exchange account: creation is refused when the account does not have
that much free that the user's other bots have not been given already."""

from decimal import Decimal

import pytest

from accounts.models import User
from amarktai.errors import ValidationFailed
from bots import engine
from bots.models import Bot
from bots.services import create_bot, unallocated_capital
from tests.bots.test_engine import BUY, scaled
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db

BOT = {"name": "Alpha", "exchange": "luno", "trading_mode": "paper", "initial_capital": 1000, "strategy": "momentum"}


def create(client, **over):
    return client.post("/api/bots", {**BOT, **over}, format="json")


def test_capital_above_the_account_is_refused(auth_client):
    body = assert_error(create(auth_client, initial_capital=100001), 400, "VALIDATION_ERROR")  # 100 000 ZAR on Luno
    assert "initial_capital" in body["details"] and "100000.00 ZAR" in body["details"]["initial_capital"][0]
    assert Bot.objects.count() == 0
    assert create(auth_client, initial_capital=100000).status_code == 201


def test_other_bots_allocations_count(auth_client, user):
    assert create(auth_client, name="A", initial_capital=60000).status_code == 201
    body = assert_error(create(auth_client, name="B", initial_capital=50000), 400, "VALIDATION_ERROR")
    assert "40000.00 ZAR" in body["details"]["initial_capital"][0]
    assert create(auth_client, name="B", initial_capital=40000).status_code == 201
    assert_error(create(auth_client, name="C", initial_capital=1), 400, "VALIDATION_ERROR")
    # Another exchange has an account of its own; a stopped or deleted bot gives its allocation back.
    assert create(auth_client, name="D", exchange="valr", initial_capital=100000).status_code == 201
    Bot.objects.filter(user=user, name="A").update(status="stopped")
    assert create(auth_client, name="E", initial_capital=60000).status_code == 201


def test_deployed_capital_stays_allocated(user):
    """A bot that bought holds part of its capital as BTC: the account's ZAR fell, its claim on ZAR fell as much."""
    alpha = create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"))
    assert engine.tick_bot(alpha.pk, scaled(BUY, 12000)) == "traded"
    assert abs(unallocated_capital(user, "luno", "paper", "ZAR") - Decimal(50000)) < Decimal("0.000001")
    create_bot(user, name="Beta", exchange="luno", initial_capital=Decimal("50000"))
    with pytest.raises(ValidationFailed, match="initial_capital"):
        create_bot(user, name="Gamma", exchange="luno", initial_capital=Decimal("1"))


def test_pending_transfers_are_not_allocatable(auth_client):
    transfer = {"from_provider": "luno", "to_provider": "valr", "amount": 90000, "currency": "ZAR"}
    assert auth_client.post("/api/wallet/transfer", transfer, format="json").status_code == 200
    assert_error(create(auth_client, initial_capital=10001), 400, "VALIDATION_ERROR")
    assert create(auth_client, initial_capital=10000).status_code == 201


def test_live_bot_checked_against_the_exchange_balance(auth_client, user, binance_via_fake):
    key_id = auth_client.post(
        "/api/keys", {"provider": "binance", "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET}, format="json"
    ).json()["key"]["id"]
    assert auth_client.post("/api/keys/test", {"credential_id": key_id}, format="json").status_code == 200
    User.objects.filter(pk=user.pk).update(system_mode="live_trading", two_factor_enabled=True)
    client = client_for(User.objects.get(pk=user.pk))
    live = {"exchange": "binance", "trading_mode": "live"}
    body = assert_error(create(client, **live, initial_capital=10001), 400, "VALIDATION_ERROR")  # 10 000 USDT free
    assert "10000.00 USDT" in body["details"]["initial_capital"][0]
    assert create(client, **live, name="L1", initial_capital=6000).status_code == 201
    assert_error(create(client, **live, name="L2", initial_capital=4001), 400, "VALIDATION_ERROR")
    assert create(client, **live, name="L2", initial_capital=4000).status_code == 201
    # Paper bots on the same exchange draw on the paper account, not the live one.
    assert create(client, exchange="binance", name="P", initial_capital=10000).status_code == 201
