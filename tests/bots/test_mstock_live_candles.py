"""A live bot on a broker (mStock) decides on the candles its owner's own credential gets: brokers serve prices only to
a logged-in account, so the keyless public feed cannot stand in. Through the scheduler's path (engine.tick_group)."""

from decimal import Decimal

import pytest

from bots import engine
from bots.models import Bot, BotStatus
from tests.bots.test_engine import BUY, scaled
from tests.fake_mstock.fixtures import fake_mstock, mstock_via_fake  # noqa: F401
from tests.fake_mstock.server import DEFAULT_CLIENT, DEFAULT_KEY, DEFAULT_SECRET, DEFAULT_TOTP_SECRET
from trading.models import Order, Trade
from wallets.models import ExchangeCredential

pytestmark = pytest.mark.django_db(transaction=True)
HISTORY = "/openapi/typea/instruments/historical/NSE/2885/minute"


def credential(user, totp_secret=DEFAULT_TOTP_SECRET):
    cred = ExchangeCredential(user=user, platform="mstock", keys_valid=True)
    cred.api_key, cred.api_secret = DEFAULT_KEY, DEFAULT_SECRET
    cred.extras = {"client_code": DEFAULT_CLIENT, "totp_secret": totp_secret}
    cred.save()
    return cred


def live_bot(user, name="NSE bot"):
    return Bot.objects.create(
        user=user,
        name=name,
        exchange="mstock",
        symbol="RELIANCE/INR",
        trading_mode="live",
        strategy="momentum",
        initial_capital=Decimal("100000"),
        current_capital=Decimal("100000"),
        status=BotStatus.ACTIVE,
    )


def test_live_broker_bot_ticks_on_its_owners_candles(user, mstock_via_fake):
    credential(user)
    bot = live_bot(user)
    base = 1_764_000_000_000
    mstock_via_fake.candles["RELIANCE"] = [[base + row[0], *row[1:]] for row in scaled(BUY, 25)]

    assert engine.tick_group("mstock", "RELIANCE/INR", "1m", [str(bot.pk)]) == {"traded": 1}

    assert sum(1 for method, path in mstock_via_fake.requests if path == HISTORY) == 1
    assert mstock_via_fake.count("POST", "orders/regular") == 1
    assert Order.objects.get(bot=bot).status == "closed"
    assert Trade.objects.get(bot=bot).price_source == "exchange"


def test_each_owner_fetches_with_their_own_account_and_a_failure_is_theirs(user, other_user, mstock_via_fake):
    credential(user)
    credential(other_user, totp_secret="KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU")  # a wrong TOTP secret
    mine, theirs = live_bot(user), live_bot(other_user, "Other")
    mstock_via_fake.candles["RELIANCE"] = [[1_764_000_000_000 + r[0], *r[1:]] for r in scaled(BUY, 25)]

    counts = engine.tick_group("mstock", "RELIANCE/INR", "1m", [str(mine.pk), str(theirs.pk)])

    assert counts == {"traded": 1, "error": 1}
    theirs.refresh_from_db()
    assert "TOTP" in theirs.last_error and theirs.failure_count == 1
    assert Order.objects.filter(bot=mine).count() == 1 and not Order.objects.filter(bot=theirs).exists()
