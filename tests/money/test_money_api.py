"""Money at the API: every aggregate converts into the user's base currency (metrics, overview, positions, wallet), says
which currency and rates it used, keeps the per-currency breakdown and reports what it could not price; bots' capital
comes out of the account's free balance and the wallet shows what is allocated."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from bots.models import Bot
from bots.selectors import overview
from bots.services import create_bot
from tests.helpers import assert_error, client_for
from tests.money.fixtures import fixed_prices  # noqa: F401
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db


def mixed_bots(user):
    """The trader's portfolio: R 20 000 on Luno, 5 000 USDT on Binance, R 49 946 on VALR, 1 000 USD on Kraken."""
    return {
        "luno": create_bot(user, name="Rand", exchange="luno", symbol="BTC/ZAR", initial_capital=Decimal("20000")),
        "binance": create_bot(user, name="Tether", exchange="binance", initial_capital=Decimal("5000")),
        "valr": create_bot(user, name="Ether", exchange="valr", symbol="ETH/ZAR", initial_capital=Decimal("49946")),
        "kraken": create_bot(user, name="Dollar", exchange="kraken", initial_capital=Decimal("1000")),
    }


def reconverts(figure, body):
    """The figure equals the sum of its per-currency parts times the rates the answer says it used."""
    parts = [
        amounts[figure] * body["rates"][ccy]
        for ccy, amounts in body["breakdown"].items()
        if figure in amounts and ccy not in body["unpriced"]
    ]
    return pytest.approx(sum(parts), abs=0.01)


def test_metrics_convert_every_currency(auth_client, user, fixed_prices):
    mixed_bots(user)
    m = auth_client.get("/api/metrics").json()["metrics"]
    # 20 000 + 5 000 x 18 + 49 946 + 1 000 x 18 (USD through BTC/USD and BTC/ZAR), never "R 75 946".
    assert m["currency"] == "ZAR" and m["total_capital"] == 177946.0
    assert m["rates"] == {"ZAR": 1.0, "USDT": 18.0, "USD": 18.0}
    assert m["breakdown"] == {
        "ZAR": {"total_capital": 69946.0},
        "USDT": {"total_capital": 5000.0},
        "USD": {"total_capital": 1000.0},
    }
    assert m["unpriced"] == {} and m["rate_source"] == "simulated"
    assert m["total_capital"] == reconverts("total_capital", m)
    assert m["total_profit"] == m["realised_pnl"] == m["unrealised_pnl"] == m["total_pnl"] == 0.0


def test_a_currency_without_a_rate_is_reported_not_summed(auth_client, user, fixed_prices):
    mixed_bots(user)
    del fixed_prices.table["BTC/USD"], fixed_prices.table["USD/INR"]  # nothing prices USD any more
    m = auth_client.get("/api/metrics").json()["metrics"]
    assert m["total_capital"] == 20000 + 5000 * 18 + 49946
    assert m["unpriced"] == {"USD": {"total_capital": 1000.0}}
    assert "USD" not in m["rates"] and m["breakdown"]["USD"] == {"total_capital": 1000.0}
    assert m["total_capital"] == reconverts("total_capital", m)


def open_position(user, bot, amount, entry, fee="0", stop=None, take=None, age=timedelta(hours=2)):
    return Position.objects.create(
        user=user,
        bot=bot,
        exchange=bot.exchange,
        symbol=bot.symbol,
        amount=Decimal(amount),
        entry_price=Decimal(entry),
        entry_fee=Decimal(fee),
        stop_loss=stop,
        take_profit=take,
        opened_at=timezone.now() - age,
    )


def test_realised_unrealised_and_total_pnl(auth_client, user, fixed_prices):
    bots = mixed_bots(user)
    # Realised: R 1 000 on Luno, -10 USDT on Binance (booked on the bots, as fills do).
    Bot.objects.filter(pk=bots["luno"].pk).update(total_profit=Decimal("1000"), current_capital=Decimal("21000"))
    Bot.objects.filter(pk=bots["binance"].pk).update(total_profit=Decimal("-10"), current_capital=Decimal("4990"))
    # Unrealised: 0.01 BTC bought at 90 000 USDT, now 100 000 (fee 1 USDT): +99 USDT; 0.1 ETH at R 40 000, now 50 000.
    open_position(user, bots["binance"], "0.01", "90000", fee="1", stop=Decimal("85000"), take=Decimal("110000"))
    open_position(user, bots["valr"], "0.1", "40000")
    m = auth_client.get("/api/metrics").json()["metrics"]
    assert m["realised_pnl"] == m["total_profit"] == 1000 - 10 * 18
    assert m["unrealised_pnl"] == 99 * 18 + 1000
    assert m["total_pnl"] == m["realised_pnl"] + m["unrealised_pnl"]
    assert m["open_positions"] == 2 and m["positions_without_price"] == 0
    for figure in ("realised_pnl", "unrealised_pnl", "total_pnl", "total_capital"):
        assert m[figure] == reconverts(figure, m)
    # The same figures reach the realtime overview.
    ov = overview(user.pk)
    for figure in ("total_capital", "total_profit", "realised_pnl", "unrealised_pnl", "total_pnl", "currency", "rates"):
        assert ov[figure] == m[figure]
    assert ov["open_positions"] == 2

    body = auth_client.get("/api/positions").json()
    assert body["total"] == 2 and body["currency"] == "ZAR"
    assert body["unrealised_pnl"] == m["unrealised_pnl"] and body["value"] == 1000 * 18 + 5000
    btc = next(p for p in body["positions"] if p["symbol"] == "BTC/USDT")
    assert btc["bot_name"] == "Tether" and btc["currency"] == "USDT" and btc["current_price"] == 100000.0
    assert btc["unrealised_pnl"] == 99.0 and btc["unrealised_pnl_pct"] == pytest.approx(99 / 900 * 100, abs=1e-4)
    assert btc["stop_loss"] == 85000.0 and btc["take_profit"] == 110000.0 and btc["priced"] is True
    assert 7100 < btc["age_seconds"] < 7300 and btc["price_source"] == "simulated"


def test_daily_pnl_counts_todays_realised_trades(auth_client, user, fixed_prices):
    from trading.models import Order

    bots = mixed_bots(user)
    for bot, pnl, when in (
        (bots["luno"], "300", timezone.now()),
        (bots["binance"], "5", timezone.now()),
        (bots["luno"], "999", timezone.now() - timedelta(days=2)),
    ):
        order = Order.objects.create(
            user=user, bot=bot, exchange=bot.exchange, symbol=bot.symbol, side="sell", type="market", amount=1,
            client_order_id=f"t-{bot.pk}-{pnl}",
        )  # fmt: skip
        Trade.objects.create(
            user=user, bot=bot, order=order, exchange=bot.exchange, symbol=bot.symbol, side="sell", amount=1,
            price=1, profit_loss=Decimal(pnl), created_at=when,
        )  # fmt: skip
    m = auth_client.get("/api/metrics").json()["metrics"]
    assert m["daily_pnl"] == 300 + 5 * 18 and m["breakdown"]["USDT"]["daily_pnl"] == 5.0


def test_live_positions_use_their_exchange_and_say_no_price(auth_client, user, fixed_prices):
    """A live bot's position is priced from its exchange ("live"), never from the simulated feed; when that price
    cannot be had the position says so and stays out of the unrealised total."""
    bots = mixed_bots(user)
    live = Bot.objects.create(
        user=user, name="Real", exchange="luno", symbol="BTC/ZAR", trading_mode="live", status="active",
        initial_capital=Decimal("1000"), current_capital=Decimal("1000"),
    )  # fmt: skip
    open_position(user, live, "0.001", "1700000")
    open_position(user, bots["valr"], "0.1", "40000")
    body = auth_client.get("/api/positions").json()
    assert ("live", "luno", "BTC/ZAR") in fixed_prices.calls
    real = next(p for p in body["positions"] if p["bot_id"] == str(live.pk))
    assert real["trading_mode"] == "live" and real["price_source"] == "live"
    assert real["current_price"] is None and real["unrealised_pnl"] is None and real["priced"] is False
    assert body["no_price"] == 1 and body["unrealised_pnl"] == 1000.0
    fixed_prices.live = {"BTC/ZAR"}  # the exchange answers again
    body = auth_client.get("/api/positions").json()
    real = next(p for p in body["positions"] if p["bot_id"] == str(live.pk))
    assert real["current_price"] == 1800000.0 and real["unrealised_pnl"] == 100.0 and body["no_price"] == 0


def test_base_currency_is_a_user_setting(auth_client, user, fixed_prices):
    mixed_bots(user)
    r = auth_client.patch("/api/auth/me", {"currency": "USD"}, format="json")
    assert r.status_code == 200 and r.json()["user"]["currency"] == "USD"
    assert User.objects.get(pk=user.pk).currency == "USD"
    m = auth_client.get("/api/metrics").json()["metrics"]
    assert m["currency"] == "USD" and m["rates"]["USD"] == 1.0
    assert m["total_capital"] == pytest.approx(69946 / 18 + 5000 + 1000, abs=0.01)
    wallet = auth_client.get("/api/wallet/balances").json()
    assert wallet["currency"] == "USD" and wallet["total_value_zar"] == pytest.approx(wallet["total_value"] * 18, 0.01)
    for bad in ("EUR", "XYZ", 5, None, ""):
        body = assert_error(
            auth_client.patch("/api/auth/me", {"currency": bad}, format="json"), 400, "VALIDATION_ERROR"
        )
        assert "currency" in body["details"]
    assert User.objects.get(pk=user.pk).currency == "USD"
    assert auth_client.patch("/api/auth/me", {"currency": "zar"}, format="json").status_code == 400  # exact codes


def test_api_key_cannot_change_the_base_currency(user):
    from rest_framework.test import APIClient

    from accounts.models import ApiKey

    _key, raw = ApiKey.generate(user, "script", scopes=["read", "trade"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/auth/me").status_code == 200
    assert client.patch("/api/auth/me", {"currency": "USD"}, format="json").status_code == 403


def test_wallet_total_value_in_base_currency_with_allocations(auth_client, user, fixed_prices):
    mixed_bots(user)
    body = auth_client.get("/api/wallet/balances").json()
    # Paper accounts: R 100 000 on Luno and VALR, 10 000 USDT on Binance and KuCoin, 10 000 USD on Kraken and Alpaca,
    # 1 000 000 INR on mStock and OpenAlgo (R 1 = INR 5).
    inr = 2000000 / 5
    assert body["currency"] == "ZAR" and body["total_value"] == body["total_value_zar"] == 200000 + 40000 * 18 + inr
    assert body["breakdown"] == {
        "INR": {"total_value": 2000000.0, "unallocated": 2000000.0},
        "USD": {"total_value": 20000.0, "allocated_to_bots": 1000.0, "unallocated": 19000.0},
        "USDT": {"total_value": 20000.0, "allocated_to_bots": 5000.0, "unallocated": 15000.0},
        "ZAR": {"total_value": 200000.0, "allocated_to_bots": 69946.0, "unallocated": 130054.0},
    }
    assert body["allocated_to_bots"] == 177946.0  # the dashboard's total capital: the same bots, the same rates
    # KuCoin's 10 000 USDT, Alpaca's 10 000 USD and the brokers' rupees: no bot there
    assert body["unallocated"] == 130054 + 5000 * 18 + 9000 * 18 + 10000 * 18 + 10000 * 18 + inr
    for figure in ("total_value", "allocated_to_bots", "unallocated"):
        assert body[figure] == reconverts(figure, body)
    assert body["unpriced"] == {}
    luno = body["allocations"]["luno"]["ZAR"]
    assert luno == {"free": 100000.0, "allocated": 20000.0, "in_positions": 0.0, "unallocated": 80000.0, "bots": 1}
    assert body["allocations"]["binance"]["USDT"]["unallocated"] == 5000.0
    assert body["allocations"]["kucoin"] == {  # no bots there: all of it free for new bots
        "USDT": {"free": 10000.0, "allocated": 0.0, "in_positions": 0.0, "unallocated": 10000.0, "bots": 0}
    }


def test_wallet_and_dashboard_capital_use_the_same_conversion(auth_client, user, fixed_prices):
    mixed_bots(user)
    wallet = auth_client.get("/api/wallet/balances").json()
    metrics = auth_client.get("/api/metrics").json()["metrics"]
    assert wallet["currency"] == metrics["currency"]
    for ccy in set(wallet["rates"]) & set(metrics["rates"]):
        assert wallet["rates"][ccy] == metrics["rates"][ccy]


def test_over_allocation_is_refused_at_the_api(auth_client, user):
    """R 99 999 999 against a R 100 000 paper wallet: refused with a field error, nothing created."""
    body = {"name": "Greedy", "exchange": "luno", "trading_mode": "paper", "initial_capital": 99999999}
    error = assert_error(auth_client.post("/api/bots", body, format="json"), 400, "VALIDATION_ERROR")
    assert "100000.00 ZAR" in error["details"]["initial_capital"][0]
    assert not Bot.objects.filter(user=user).exists()
    ok = auth_client.post("/api/bots", {**body, "initial_capital": 30000}, format="json")
    assert ok.status_code == 201
    allocation = auth_client.get("/api/wallet/balances").json()["allocations"]["luno"]["ZAR"]
    assert allocation["allocated"] == 30000.0 and allocation["unallocated"] == 70000.0
    error = assert_error(
        auth_client.post("/api/bots", {**body, "initial_capital": 70001}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert "70000.00 ZAR" in error["details"]["initial_capital"][0]


def test_other_users_money_never_counts(auth_client, user, other_user, fixed_prices):
    mixed_bots(other_user)
    m = auth_client.get("/api/metrics").json()["metrics"]
    assert m["total_capital"] == 0.0 and m["breakdown"] == {} and m["open_positions"] == 0
    assert auth_client.get("/api/positions").json()["positions"] == []
    allocations = auth_client.get("/api/wallet/balances").json()["allocations"]
    assert {row["bots"] for currencies in allocations.values() for row in currencies.values()} == {0}
    assert client_for(other_user).get("/api/metrics").json()["metrics"]["total_capital"] == 177946.0


def test_the_assistant_totals_are_converted(auth_client, user, fixed_prices):
    mixed_bots(user)
    answer = auth_client.post("/api/ai/chat", {"message": "What is my portfolio status?"}, format="json").json()
    assert "capital of R177,946.00" in answer["response"]  # not R 75,946 of rand, USDT and dollars added up
    del fixed_prices.table["BTC/USD"], fixed_prices.table["USD/INR"]
    answer = auth_client.post("/api/ai/chat", {"message": "What is my portfolio status?"}, format="json").json()
    assert "capital of R159,946.00" in answer["response"] and "no price available): USD" in answer["response"]
    bots = auth_client.post("/api/ai/chat", {"message": "Check my bots"}, format="json").json()["response"]
    assert "capital $5,000.00" in bots and "capital R20,000.00" in bots  # each bot in its own currency


QUOTES = {"luno": "BTC/ZAR", "binance": "BTC/USDT", "kraken": "BTC/USD", "valr": "ETH/ZAR"}


def test_metrics_total_is_the_sum_of_its_converted_parts(auth_client, user, fixed_prices):
    """For any mix of bots in rand, USDT and dollars (and one currency nothing prices), /api/metrics's capital and
    profit are exactly their per-currency amounts times the rates the answer gives; the unpriced one is left out."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    money = st.decimals(min_value=0, max_value=10**7, places=2)
    profit = st.decimals(min_value=-(10**5), max_value=10**5, places=2)
    bots = st.lists(st.tuples(st.sampled_from([*QUOTES, "nowhere"]), money, profit), max_size=6)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bots=bots)
    def check(bots):
        Bot.objects.filter(user=user).delete()
        for i, (exchange, capital, pnl) in enumerate(bots):
            symbol = QUOTES.get(exchange, "BTC/EUR")  # EUR: no market prices it
            Bot.objects.create(
                user=user, name=f"B{i}", exchange=exchange, symbol=symbol, initial_capital=capital or 1,
                current_capital=capital, total_profit=pnl,
            )  # fmt: skip
        m = auth_client.get("/api/metrics").json()["metrics"]
        for figure, index in (("total_capital", 1), ("total_profit", 2)):
            priced = sum(  # rand as it is, USDT and USD at R 18
                (b[index] * (1 if QUOTES[b[0]].endswith("ZAR") else 18) for b in bots if b[0] in QUOTES), Decimal(0)
            )
            assert m[figure] == float(round(priced, 2))
            assert m[figure] == reconverts(figure, m)
            unpriced = sum((b[index] for b in bots if b[0] not in QUOTES), Decimal(0))
            assert m["unpriced"].get("EUR", {}).get(figure, 0.0) == float(unpriced)

    check()
