"""The paper exchange: fills, fees, slippage, reservations, idempotency, no overspending, and hypothesis properties."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amarktai.errors import InsufficientFunds, NotFound, ValidationFailed
from trading.exchanges import get_exchange, simfeed
from trading.exchanges.paper import PaperExchange
from trading.models import PaperBalance, PaperOrder


class FixedFeed:
    """A feed whose price the test sets."""

    source = "simulated"

    def __init__(self, mid=Decimal("1000000"), spread=Decimal("0.0004")):
        self.set(mid, spread)

    def set(self, mid, spread=Decimal("0.0004")):
        mid = Decimal(mid)
        self.book = {
            "bid": (mid * (1 - spread / 2)).quantize(Decimal("0.01")),
            "ask": (mid * (1 + spread / 2)).quantize(Decimal("0.01")),
            "last": mid,
        }

    def ticker(self, symbol, now=None):
        return {"symbol": symbol, **self.book, "timestamp": 0}

    def ohlcv(self, symbol, timeframe="1m", limit=100, now=None):
        return simfeed.ohlcv(symbol, timeframe, limit)


def balances(exchange):
    return dict(exchange.fetch_balance())


@pytest.fixture
def paper(user):
    return PaperExchange(user, "luno", feed=FixedFeed())


@pytest.mark.django_db
class TestPaperExchange:
    def test_starting_balance_and_markets(self, paper):
        assert balances(paper) == {"ZAR": {"free": Decimal("100000"), "used": Decimal("0"), "total": Decimal("100000")}}
        markets = paper.load_markets()
        assert "BTC/ZAR" in markets and markets["BTC/ZAR"]["quote"] == "ZAR"

    def test_market_buy_then_sell_with_fees(self, paper):
        order = paper.create_order("BTC/ZAR", "market", "buy", Decimal("0.01"))
        assert order["status"] == "closed" and order["filled"] == Decimal("0.01")
        ask = paper.feed.book["ask"]
        assert order["average"] >= ask  # slippage never in the buyer's favour
        assert order["fee"]["cost"] == (order["cost"] * Decimal("0.001")).quantize(Decimal("0.00000001"))
        after = balances(paper)
        assert after["BTC"]["free"] == Decimal("0.01")
        assert after["ZAR"]["free"] == Decimal("100000") - order["cost"] - order["fee"]["cost"]

        sell = paper.create_order("BTC/ZAR", "market", "sell", Decimal("0.01"))
        assert sell["average"] <= paper.feed.book["bid"]
        final = balances(paper)
        assert final["BTC"]["free"] == 0
        assert final["ZAR"]["free"] == after["ZAR"]["free"] + sell["cost"] - sell["fee"]["cost"]

    def test_slippage_grows_with_size(self, paper):
        small = paper._fill_price(paper.market("BTC/ZAR"), "buy", Decimal("0.001"), paper.feed.book)
        large = paper._fill_price(paper.market("BTC/ZAR"), "buy", Decimal("2"), paper.feed.book)
        assert paper.feed.book["ask"] <= small < large

    def test_insufficient_funds_changes_nothing(self, paper):
        with pytest.raises(InsufficientFunds):
            paper.create_order("BTC/ZAR", "market", "buy", Decimal("1"))  # ~1,000,000 ZAR > 100,000
        with pytest.raises(InsufficientFunds):
            paper.create_order("BTC/ZAR", "market", "sell", Decimal("0.001"))
        assert balances(paper)["ZAR"]["free"] == Decimal("100000")
        assert not PaperOrder.objects.exists()

    def test_validation(self, paper):
        with pytest.raises(ValidationFailed):
            paper.create_order("DOGE/ZAR", "market", "buy", Decimal("1"))
        with pytest.raises(ValidationFailed):
            paper.create_order("BTC/ZAR", "market", "buy", Decimal("0.00001"))  # below minimum
        with pytest.raises(ValidationFailed):
            paper.create_order("BTC/ZAR", "limit", "buy", Decimal("0.01"))  # no price
        with pytest.raises(ValidationFailed):
            paper.create_order("BTC/ZAR", "market", "buy", Decimal("6"))  # above the freeze quantity
        with pytest.raises(ValidationFailed) as err:
            paper.create_order("BTC/ZAR", "limit", "buy", Decimal("51"), price=Decimal("1"))  # above max_amount (50)
        assert err.value.details == {"amount": ["above the maximum"]}
        paper.feed.set(Decimal("10"))
        with pytest.raises(ValidationFailed) as err:  # 1 XRP at 10 ZAR < the 18.5 ZAR minimum value, market orders too
            paper.create_order("XRP/ZAR", "market", "buy", Decimal("1"))
        assert err.value.details == {"amount": ["below the minimum value"]}
        assert not PaperOrder.objects.exists()

    def test_limit_order_rests_reserves_and_fills_when_crossed(self, paper):
        order = paper.create_order("BTC/ZAR", "limit", "buy", Decimal("0.01"), price=Decimal("990000"))
        assert order["status"] == "open"
        reserved = balances(paper)["ZAR"]["used"]
        assert reserved > Decimal("9900")
        assert paper.fetch_open_orders("BTC/ZAR")[0]["id"] == order["id"]

        paper.feed.set(Decimal("985000"))
        filled = paper.fetch_order(order["id"])
        assert filled["status"] == "closed" and filled["average"] == Decimal("990000")  # at the limit, not worse
        after = balances(paper)
        assert after["ZAR"]["used"] == 0 and after["BTC"]["free"] == Decimal("0.01")
        assert after["ZAR"]["free"] == Decimal("100000") - Decimal("9900") - filled["fee"]["cost"]

    def test_cancel_releases_reservation(self, paper):
        order = paper.create_order("BTC/ZAR", "limit", "buy", Decimal("0.01"), price=Decimal("900000"))
        cancelled = paper.cancel_order(order["id"])
        assert cancelled["status"] == "canceled"
        assert balances(paper)["ZAR"] == {"free": Decimal("100000"), "used": Decimal("0"), "total": Decimal("100000")}
        assert paper.cancel_order(order["id"])["status"] == "canceled"  # idempotent

    def test_client_order_id_is_idempotent(self, paper):
        first = paper.create_order("BTC/ZAR", "market", "buy", Decimal("0.01"), client_order_id="bot-1-sig-1")
        second = paper.create_order("BTC/ZAR", "market", "buy", Decimal("0.01"), client_order_id="bot-1-sig-1")
        assert first["id"] == second["id"]
        assert PaperOrder.objects.count() == 1
        assert balances(paper)["BTC"]["free"] == Decimal("0.01")

    def test_accounts_are_per_user(self, paper, other_user):
        paper.create_order("BTC/ZAR", "market", "buy", Decimal("0.01"))
        theirs = PaperExchange(other_user, "luno", feed=FixedFeed())
        assert "BTC" not in balances(theirs)
        with pytest.raises(NotFound):
            theirs.fetch_order(PaperOrder.objects.get().id)

    def test_get_exchange_paper_uses_simulated_feed(self, user):
        exchange = get_exchange(user, "binance", "paper")
        ticker = exchange.fetch_ticker("BTC/USDT")
        assert ticker["bid"] < ticker["ask"]
        assert len(exchange.fetch_ohlcv("BTC/USDT", "1m", 50)) == 50


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_cannot_overspend(user):
    """Two threads each try to spend ~60 % of the balance: exactly one succeeds, nothing goes negative."""
    results = []

    def buy():
        try:
            exchange = PaperExchange(user, "luno", feed=FixedFeed())
            results.append(exchange.create_order("BTC/ZAR", "market", "buy", Decimal("0.06"))["status"])
        except InsufficientFunds:
            results.append("insufficient")
        finally:
            connection.close()

    PaperExchange(user, "luno", feed=FixedFeed()).fetch_balance()
    threads = [threading.Thread(target=buy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["closed", "insufficient"]
    zar = PaperBalance.objects.get(user=user, currency="ZAR")
    assert zar.free >= 0 and PaperBalance.objects.get(user=user, currency="BTC").free == Decimal("0.06")


ORDER = st.tuples(
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(["market", "limit"]),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.2"), places=4),
    st.integers(min_value=-300, max_value=300),  # limit price offset from mid, in basis points
    st.integers(min_value=-500, max_value=500),  # market move afterwards, in basis points
)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(ORDER, min_size=1, max_size=8))
def test_properties_conservation_non_negative_limit_prices(make_user, orders):
    user = make_user()
    feed = FixedFeed(Decimal("1000000"))
    exchange = PaperExchange(user, "luno", feed=feed)
    start = balances(exchange)["ZAR"]["total"]
    mid = Decimal("1000000")
    for side, type_, amount, offset_bp, move_bp in orders:
        price = (mid * (1 + Decimal(offset_bp) / 10000)).quantize(Decimal("0.01")) if type_ == "limit" else None
        try:
            exchange.create_order("BTC/ZAR", type_, side, amount, price=price)
        except (InsufficientFunds, ValidationFailed):
            pass
        mid = (mid * (1 + Decimal(move_bp) / 10000)).quantize(Decimal("0.01"))
        feed.set(mid)
        exchange.match_open_orders()
        for row in PaperBalance.objects.filter(user=user):
            assert row.free >= 0 and row.used >= 0

    # Conservation: what is held equals the start plus the proceeds of fills minus their costs and fees.
    quote, base = Decimal("0"), Decimal("0")
    for order in PaperOrder.objects.filter(user=user, status="closed"):
        if order.side == "buy":
            quote -= order.cost + order.fee
            base += order.filled
        else:
            quote += order.cost - order.fee
            base -= order.filled
        if order.type == "limit":  # fills at or better than the limit
            assert order.average <= order.price if order.side == "buy" else order.average >= order.price
    final = balances(exchange)
    assert final["ZAR"]["total"] == start + quote
    assert final.get("BTC", {"total": Decimal("0")})["total"] == base
    open_reserved = sum(
        (o.reserved for o in PaperOrder.objects.filter(user=user, status="open", side="buy")), Decimal("0")
    )
    assert final["ZAR"]["used"] == open_reserved
