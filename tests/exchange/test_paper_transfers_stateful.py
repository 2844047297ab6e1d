"""A hypothesis state machine over one paper account's orders and the transfers out of it, in any interleaving: market
and limit orders, cancels, price moves and matching, transfer requests (up to and beyond everything that is free) and
their completion, failure or cancel.

After every step, per currency of the source account (binance):
- free >= 0 and used >= 0;
- balance - reserved >= 0, where reserved is what open orders set aside plus every transfer out still pending (read
  from the order book and the transfer ledger, not from ``used``): money pending out can never be spent by an order;
- used == that reserved amount exactly;
- total == start + the fills' effects - completed transfers out;
and the destination account (kucoin) holds its start plus the completed transfers in.
"""

from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from amarktai.errors import InsufficientFunds, NotFound, ValidationFailed
from tests.exchange.test_paper_stateful import MIDS, Feed
from trading.exchanges import get_exchange
from trading.exchanges.paper import PaperExchange
from trading.models import PaperBalance, PaperOrder
from wallets.models import Transfer, TransferEvent
from wallets.selectors import pending_out
from wallets.services import transfers as transfer_service

SOURCE, DESTINATION = "binance", "kucoin"
CURRENCIES = ["USDT", "BTC", "ETH"]


def transfer_status(transfer):
    """The ledger's answer: the status of the transfer's latest event."""
    return TransferEvent.objects.filter(transfer=transfer).order_by("-created_at", "-id").first().status


class TransferMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        from accounts.models import User

        self.user = User.objects.create_user(
            email=f"tm{PaperOrder.objects.count()}-{id(self)}@example.com", password="S3cure-pass-123"
        )
        self.feed = Feed()
        self.exchange = PaperExchange(self.user, SOURCE, feed=self.feed)
        self.start = {c: v["total"] for c, v in self.exchange.fetch_balance().items()}
        destination = get_exchange(self.user, DESTINATION, "paper")
        self.destination_start = {c: v["total"] for c, v in destination.fetch_balance().items()}

    # --- orders -------------------------------------------------------------------------------------------------
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
    def cancel_order(self, index):
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

    # --- transfers ----------------------------------------------------------------------------------------------
    @rule(currency=st.sampled_from(CURRENCIES), share_pct=st.integers(min_value=1, max_value=120))
    def request_transfer(self, currency, share_pct):
        """Ask for a share of what is free, up to everything and beyond (which must be refused)."""
        row = PaperBalance.objects.filter(user=self.user, platform=SOURCE, currency=currency).first()
        free = row.free if row else Decimal(0)
        amount = (free * share_pct / 100).quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)
        if amount <= 0:
            amount = Decimal("0.001")
        try:
            transfer_service.request_transfer(self.user, SOURCE, DESTINATION, amount, currency)
        except InsufficientFunds:
            assert amount > free
        else:
            assert amount <= free

    @rule(index=st.integers(min_value=0, max_value=5), status=st.sampled_from(["completed", "failed", "canceled"]))
    def finish_transfer(self, index, status):
        transfers = Transfer.objects.filter(user=self.user).order_by("created_at")
        pending = [t for t in transfers if transfer_status(t) == "pending"]
        if pending:
            transfer_service.record_status(self.user, pending[index % len(pending)].pk, status)

    # --- the books ----------------------------------------------------------------------------------------------
    @invariant()
    def pending_money_is_never_spent(self):
        if not hasattr(self, "user"):
            return
        rows = {r.currency: r for r in PaperBalance.objects.filter(user=self.user, platform=SOURCE)}
        effects, reserved = {}, {}
        for order in PaperOrder.objects.filter(user=self.user, platform=SOURCE):
            base, quote = order.symbol.split("/")
            if order.status == "closed":
                sign = 1 if order.side == "buy" else -1
                effects[base] = effects.get(base, Decimal(0)) + sign * order.filled
                effects[quote] = effects.get(quote, Decimal(0)) - sign * order.cost - order.fee
            elif order.status == "open":
                currency = quote if order.side == "buy" else base
                reserved[currency] = reserved.get(currency, Decimal(0)) + order.reserved
        sent = {}
        for transfer in Transfer.objects.filter(user=self.user):
            if transfer_status(transfer) == "completed":
                sent[transfer.currency] = sent.get(transfer.currency, Decimal(0)) + transfer.amount
        for currency in set(rows) | set(effects) | set(self.start) | set(sent):
            row = rows.get(currency)
            free, used = (row.free, row.used) if row else (Decimal(0), Decimal(0))
            assert free >= 0 and used >= 0, currency
            set_aside = reserved.get(currency, Decimal(0)) + pending_out(self.user, SOURCE, currency)
            assert free + used - set_aside >= 0, (currency, free, used, set_aside)
            assert used == set_aside, (currency, used, set_aside)
            expected = self.start.get(currency, Decimal(0)) + effects.get(currency, Decimal(0)) - sent.get(currency, 0)
            assert free + used == expected, currency
        arrived = {r.currency: r.total for r in PaperBalance.objects.filter(user=self.user, platform=DESTINATION)}
        for currency in set(arrived) | set(sent) | set(self.destination_start):
            expected = self.destination_start.get(currency, Decimal(0)) + sent.get(currency, Decimal(0))
            assert arrived.get(currency, Decimal(0)) == expected, currency


TransferMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
def test_paper_transfer_state_machine():
    TransferMachine.TestCase().runTest()
