"""The assistant says which accounts of the last group order filled and which failed, and why."""

from decimal import Decimal

import pytest

from chat import intents
from chat.services import answer
from mirror import services
from trading.models import PaperBalance
from wallets.models import ExchangeCredential

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.mark.parametrize(
    "text", ["Which accounts filled?", "show my group orders", "did any account fail?", "mirrored order status"]
)
def test_questions_about_group_orders(text):
    assert intents.parse(text, []).kind == intents.GROUP_ORDERS


def test_the_assistant_reports_each_account(user):
    assert "no order to an account group" in answer(user, "Which accounts filled?")["response"]
    lead = ExchangeCredential.objects.create(user=user, platform="luno", label="Lead", trading_mode="paper")
    poor = ExchangeCredential.objects.create(user=user, platform="valr", label="Poor", trading_mode="paper")
    PaperBalance.objects.create(user=user, platform="valr", account=poor, currency="ZAR", free=D("5"))
    group = services.create_group(user, name="Desk", primary_account_id=lead.pk)
    services.add_member(user, group.pk, account_id=poor.pk, multiplier=D("2"))
    services.place_group_order(user, group.pk, symbol="BTC/ZAR", side="buy", amount=D("0.001"))
    text = answer(user, "Which accounts filled?")["response"]
    assert "buy 0.001 BTC/ZAR to Desk, partly filled" in text
    assert "Lead (luno): filled 0.001 at" in text
    assert "Poor (valr): skipped: insufficient funds" in text
