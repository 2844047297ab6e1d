"""A hypothesis state machine over the paper exchange: market/limit orders on two symbols, cancels, price moves and
matching, in any order. After every step: no balance negative, "used" equals what open orders reserve, every currency's
total equals the start plus the fills' effects (value conserved apart from fees), limit fills at or better than the
limit."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from amarktai.errors import InsufficientFunds, NotFound, ValidationFailed
from trading.exchanges.paper import PaperExchange
from trading.models import PaperBalance, PaperOrder

MIDS = {"BTC/USDT": Decimal("65000"), "ETH/USDT": Decimal("3250")}


class Feed:
    source = "simulated"

    def __init__(self):
        self.mids = dict(MIDS)

    def ticker(self, symbol, now=None):
        mid = self.mids[symbol]
        return {
            "symbol": symbol,
            "bid": (mid * Decimal("0.9998")).quantize(Decimal("0.01")),
            "ask": (mid * Decimal("1.0002")).quantize(Decimal("0.01")),
            "last": mid,
            "timestamp": 0,
        }


class PaperMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        from accounts.models import User

        self.user = User.objects.create_user(
            email=f"sm{PaperOrder.objects.count()}-{id(self)}@example.com", password="S3cure-pass-123"
        )
        self.feed = Feed()
        self.exchange = PaperExchange(self.user, "binance", feed=self.feed)
        self.start = {c: v["total"] for c, v in self.exchange.fetch_balance().items()}

    @rule(
        symbol=st.sampled_from(sorted(MIDS)),
        side=st.sampled_from(["buy", "sell"]),
        amount=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.08"), places=3),
    )
    def market_order(self, symbol, side, amount):
        try:
            self.exchange.create_order(symbol, "market", side, amount)
        except (InsufficientFunds, ValidationFailed):
            pass

    @rule(
        symbol=st.sampled_from(sorted(MIDS)),
        side=st.sampled_from(["buy", "sell"]),
        amount=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.08"), places=3),
        offset_bp=st.integers(min_value=-200, max_value=200),
    )
    def limit_order(self, symbol, side, amount, offset_bp):
        price = (self.feed.mids[symbol] * (1 + Decimal(offset_bp) / 10000)).quantize(Decimal("0.01"))
        try:
            self.exchange.create_order(symbol, "limit", side, amount, price=price)
        except (InsufficientFunds, ValidationFailed):
            pass

    @rule(index=st.integers(min_value=0, max_value=5))
    def cancel(self, index):
        open_orders = list(PaperOrder.objects.filter(user=self.user, status="open").order_by("created_at"))
        if open_orders:
            order = open_orders[index % len(open_orders)]
            assert self.exchange.cancel_order(str(order.id))["status"] == "canceled"
        else:
            with pytest.raises(NotFound):
                self.exchange.cancel_order("no-such-order")

    @rule(symbol=st.sampled_from(sorted(MIDS)), move_bp=st.integers(min_value=-300, max_value=300))
    def move_and_match(self, symbol, move_bp):
        self.feed.mids[symbol] = (self.feed.mids[symbol] * (1 + Decimal(move_bp) / 10000)).quantize(Decimal("0.01"))
        for filled in self.exchange.match_open_orders():
            assert filled["status"] == "closed"

    @invariant()
    def books_balance(self):
        if not hasattr(self, "user"):
            return
        rows = {r.currency: r for r in PaperBalance.objects.filter(user=self.user, platform="binance")}
        for row in rows.values():
            assert row.free >= 0 and row.used >= 0
        effects, reserved = {}, {}
        for order in PaperOrder.objects.filter(user=self.user):
            base, quote = order.symbol.split("/")
            if order.status == "closed":
                sign = 1 if order.side == "buy" else -1
                effects[base] = effects.get(base, Decimal(0)) + sign * order.filled
                effects[quote] = effects.get(quote, Decimal(0)) - sign * order.cost - order.fee
                if order.type == "limit":
                    assert order.average <= order.price if order.side == "buy" else order.average >= order.price
            elif order.status == "open":
                currency = quote if order.side == "buy" else base
                reserved[currency] = reserved.get(currency, Decimal(0)) + order.reserved
        for currency in set(rows) | set(effects) | set(self.start):
            total = rows[currency].total if currency in rows else Decimal(0)
            assert total == self.start.get(currency, Decimal(0)) + effects.get(currency, Decimal(0)), currency
            used = rows[currency].used if currency in rows else Decimal(0)
            assert used == reserved.get(currency, Decimal(0)), currency


PaperMachine.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
def test_paper_state_machine():
    PaperMachine.TestCase().runTest()
