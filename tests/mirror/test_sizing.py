"""mirror.sizing: follower sizes, lot rounding and splitting at the freeze quantity (hypothesis properties)."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from mirror import sizing

D = Decimal
CRYPTO = {"amount_precision": D("0.00001"), "lot_size": None, "min_amount": D("0.00001"), "max_market_amount": D("5")}
STOCK = {"amount_precision": D("1"), "lot_size": D("75"), "min_amount": D("75"), "max_market_amount": D("1800")}


def test_follower_sizes_round_down_to_the_step_and_lot():
    assert sizing.follower_amount(D("0.123456"), CRYPTO, D("0.5")) == D("0.06172")
    assert sizing.follower_amount(D("0.1"), CRYPTO, D("2")) == D("0.2")
    assert sizing.follower_amount(D("0.1"), CRYPTO, D("2"), fixed_amount=D("0.0333333")) == D("0.03333")
    assert sizing.follower_amount(D("150"), STOCK, D("1.5")) == D("225")  # 3 lots
    assert sizing.follower_amount(D("150"), STOCK, D("0.4")) == D("0")  # 60 < one lot of 75
    assert sizing.follower_amount(D("300"), STOCK, D("0.9")) == D("225")  # 270 -> 3 lots


def test_split_at_the_freeze_quantity():
    assert sizing.split(D("12"), D("5"), CRYPTO) == [D("5"), D("5"), D("2")]
    assert sizing.split(D("4"), D("5"), CRYPTO) == [D("4")]
    assert sizing.split(D("3750"), D("1800"), STOCK) == [D("1800"), D("1800"), D("150")]
    # a rest below the minimum borrows from the slice before it
    assert sizing.split(
        D("10.000001"), D("5"), {**CRYPTO, "amount_precision": D("0.000001"), "min_amount": D("0.01")}
    ) == [
        D("5"),
        D("4.990001"),
        D("0.01"),
    ]
    assert sizing.split(D("0"), D("5"), CRYPTO) == []


def test_freeze_quantity_per_order_type():
    market = {"max_market_amount": D("5"), "max_amount": D("50")}
    assert sizing.freeze_quantity(market, "market") == D("5")
    assert sizing.freeze_quantity(market, "limit") == D("50")
    assert sizing.freeze_quantity({"max_market_amount": None, "max_amount": D("50")}, "market") == D("50")
    assert sizing.freeze_quantity({"max_market_amount": None, "max_amount": None}, "market") is None


def test_funds_needed_include_the_fee():
    assert sizing.required_funds("buy", D("2"), D("100"), D("0.001"), "BTC", "USDT") == ("USDT", D("200.200"))
    assert sizing.required_funds("sell", D("2"), D("100"), D("0.001"), "BTC", "USDT") == ("BTC", D("2"))


def test_max_order_value_caps_the_amount():
    assert sizing.cap_to_value(D("1"), D("100"), D("50"), CRYPTO) == D("0.5")
    assert sizing.cap_to_value(D("1"), D("100"), None, CRYPTO) == D("1")
    assert sizing.cap_to_value(D("300"), D("10"), D("2000"), STOCK) == D("150")


steps = st.sampled_from([D("1"), D("0.1"), D("0.001"), D("0.00001"), D("0.5"), D("0.25")])
lots = st.sampled_from([None, D("1"), D("25"), D("75")])


@settings(max_examples=300, deadline=None)
@given(
    requested=st.decimals(min_value=D("0"), max_value=D("100000"), places=6, allow_nan=False, allow_infinity=False),
    multiplier=st.decimals(min_value=D("0.01"), max_value=D("10"), places=2),
    step=steps,
    lot=lots,
    freeze_steps=st.integers(min_value=1, max_value=5000),
    min_steps=st.integers(min_value=0, max_value=3),
)
def test_children_sum_to_the_rounded_size_and_never_exceed_the_freeze_quantity(
    requested, multiplier, step, lot, freeze_steps, min_steps
):
    unit = lot or step
    market = {
        "amount_precision": step,
        "lot_size": lot,
        "min_amount": unit * min_steps or None,
        "max_market_amount": unit * freeze_steps,
        "max_amount": None,
    }
    size = sizing.follower_amount(requested, market, multiplier)
    assert size <= requested * multiplier  # rounded down, never up
    assert size == 0 or size % unit == 0
    children = sizing.split(size, sizing.freeze_quantity(market, "market"), market)
    assert sum(children, D("0")) == size
    assert all(0 < c <= market["max_market_amount"] for c in children)
    assert all(c % unit == 0 for c in children)


def test_every_adapter_states_its_freeze_quantity_where_the_exchange_has_one():
    from trading.exchanges import mstock_adapter, paper
    from trading.platforms import get_platform

    assert paper.market_info("BTC/ZAR")["max_market_amount"] == D("5")
    nifty = paper.market_info("NIFTY/INR")
    assert nifty["max_market_amount"] == D("1800") and nifty["lot_size"] == D("75")
    plan = sizing.split(sizing.round_amount(D("3790"), nifty), sizing.freeze_quantity(nifty, "market"), nifty)
    assert plan == [D("1800"), D("1800"), D("150")]
    adapter = mstock_adapter.MStockExchange.__new__(mstock_adapter.MStockExchange)
    adapter.platform = get_platform("mstock")
    assert adapter._market_shape("NIFTY/INR")["max_market_amount"] == D("1800")
    assert adapter._market_shape("RELIANCE/INR")["max_market_amount"] is None  # NSE states none for cash shares
