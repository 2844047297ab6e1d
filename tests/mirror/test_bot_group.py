"""A bot that trades an account group: its order goes to every enabled account of the group, once per signal."""

from decimal import Decimal

import pytest

from bots import engine
from bots.services import create_bot
from mirror import services
from mirror.models import GroupOrder, GroupOrderChild
from tests.bots.test_engine import BUY, SELL, scaled
from tests.helpers import assert_error
from trading.models import Order, Position
from wallets.models import ExchangeCredential

pytestmark = pytest.mark.django_db
D = Decimal


def paper_account(user, platform, label):
    return ExchangeCredential.objects.create(user=user, platform=platform, label=label, trading_mode="paper")


@pytest.fixture
def group(user):
    primary = paper_account(user, "luno", "luno one")
    follower = paper_account(user, "luno", "luno two")
    other = paper_account(user, "valr", "valr")
    group = services.create_group(user, name="Bot desk", primary_account_id=primary.pk)
    services.add_member(user, group.pk, account_id=follower.pk, multiplier=D("2"))
    services.add_member(user, group.pk, account_id=other.pk, multiplier=D("0.5"), enabled=False)
    return group


def test_a_bots_order_goes_to_every_enabled_account_of_its_group(user, auth_client, group):
    bot = create_bot(user, name="Grouped", exchange="luno", initial_capital=D("50000"), strategy="momentum")
    resp = auth_client.patch(f"/api/bots/{bot.pk}", {"account_group_id": str(group.pk)}, format="json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["bot"]["account_group_id"] == str(group.pk)

    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "traded"
    go = GroupOrder.objects.get(bot=bot)
    children = list(GroupOrderChild.objects.filter(group_order=go))
    assert len(children) == 2  # the disabled valr member is left out
    primary, follower = sorted(children, key=lambda c: not c.is_primary)
    assert follower.amount == primary.amount * 2
    assert all(c.state == "placed" and c.order.bot_id == bot.pk and c.order.status == "closed" for c in children)
    assert Order.objects.filter(bot=bot).count() == 2

    # the same candle again (a retried tick): nothing new is placed
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    assert GroupOrder.objects.filter(bot=bot).count() == 1 and Order.objects.filter(bot=bot).count() == 2
    positions = {p.account_id: p.amount for p in Position.objects.filter(bot=bot, is_open=True)}
    assert positions == {primary.account_id: primary.amount, follower.account_id: follower.amount}

    # the sell: sized from the primary's position, the follower's by its multiplier: both accounts end flat
    assert engine.tick_bot(bot.pk, scaled(SELL, 12000)) == "traded"
    sell = GroupOrder.objects.get(bot=bot, side="sell")
    assert {c.state for c in sell.children.all()} == {"placed"}
    assert not Position.objects.filter(bot=bot, is_open=True).exists()


def test_another_users_group_cannot_be_given_to_a_bot(other_user, other_client, group):
    bot = create_bot(other_user, name="Theirs", exchange="luno", initial_capital=D("1000"), strategy="momentum")
    assert_error(
        other_client.patch(f"/api/bots/{bot.pk}", {"account_group_id": str(group.pk)}, format="json"), 404, "NOT_FOUND"
    )
