"""trading.valuation: every aggregate is the sum of its converted parts; a currency without a rate is reported, never
summed; rates go through reference markets where no direct one exists."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.valuation import Valuation

CURRENCIES = ["ZAR", "USDT", "USD", "BTC", "ETH", "XYZ"]


def table_lookup(table):
    return lambda source, platform_id, symbol: table.get(symbol)


amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=8, allow_nan=False, allow_infinity=False)
bags = st.dictionaries(st.sampled_from(CURRENCIES), amounts, max_size=len(CURRENCIES))
prices = st.decimals(min_value=Decimal("0.0001"), max_value=10**7, places=4)
tables = st.fixed_dictionaries(
    {},
    optional={
        "USDT/ZAR": prices,
        "BTC/ZAR": prices,
        "BTC/USD": prices,
        "BTC/USDT": prices,
        "ETH/ZAR": prices,
        "ETH/USDT": prices,
    },
)


@settings(max_examples=200, deadline=None)
@given(bag=bags, table=tables, base=st.sampled_from(["ZAR", "USD", "USDT"]))
def test_an_aggregate_is_the_sum_of_its_converted_parts(bag, table, base):
    valuation = Valuation(base, "simulated", lookup=table_lookup(table))
    converted = valuation.convert(bag)
    assert converted.currency == base
    priced = {c: a for c, a in bag.items() if a and valuation.rate(c) is not None}
    assert converted.total == sum((a * valuation.rate(c) for c, a in priced.items()), Decimal(0))
    # Every non-zero amount is either converted at its rate or reported as unpriced with its amount, never both.
    assert set(converted.rates) == set(priced)
    assert converted.unpriced == {c: a for c, a in bag.items() if a and c not in priced}
    assert converted.rates.get(base, Decimal(1)) == 1 and "XYZ" not in converted.rates
    assert converted.parts == dict(bag)


@settings(max_examples=100, deadline=None)
@given(first=bags, second=bags, table=tables)
def test_totals_add_up(first, second, table):
    """Converting two bags together gives the sum of converting them apart (one rate per currency)."""
    valuation = Valuation("ZAR", "simulated", lookup=table_lookup(table))
    merged = dict(first)
    for c, a in second.items():
        merged[c] = merged.get(c, Decimal(0)) + a
    together = valuation.convert(merged).total
    apart = valuation.convert(first).total + valuation.convert(second).total
    scale = sum((abs(a) * (valuation.rate(c) or 0) for c, a in [*first.items(), *second.items()]), Decimal(1))
    assert abs(together - apart) <= scale * Decimal("1e-24")  # equal to Decimal's 28 significant digits


def test_rates_direct_inverse_and_through_references():
    table = {"USDT/ZAR": Decimal("18"), "BTC/ZAR": Decimal("1800000"), "BTC/USD": Decimal("100000")}
    zar = Valuation("ZAR", "simulated", lookup=table_lookup(table))
    assert zar.rate("ZAR") == 1 and zar.rate("USDT") == 18 and zar.rate("BTC") == 1800000
    assert zar.rate("USD") == 18  # no USD/ZAR market: 1 / BTC/USD x BTC/ZAR
    assert zar.rate("XYZ") is None
    usd = Valuation("USD", "simulated", lookup=table_lookup(table))
    assert abs(usd.rate("ZAR") * 18 - 1) < Decimal("1e-20")


def test_report_shape_and_the_traders_example():
    """R 20 000 + 5 000 USDT + R 49 946 is R 159 946 at R 18 per USDT, not "R 74 946"."""
    table = {"USDT/ZAR": Decimal("18")}
    valuation = Valuation("ZAR", "simulated", lookup=table_lookup(table))
    capital = {"ZAR": Decimal("69946"), "USDT": Decimal("5000"), "XYZ": Decimal("7")}
    totals, block = valuation.report({"total_capital": capital})
    assert totals == {"total_capital": 159946.0}
    assert block == {
        "currency": "ZAR",
        "rate_source": "simulated",
        "rates": {"ZAR": 1.0, "USDT": 18.0},
        "breakdown": {
            "USDT": {"total_capital": 5000.0},
            "XYZ": {"total_capital": 7.0},
            "ZAR": {"total_capital": 69946.0},
        },
        "unpriced": {"XYZ": {"total_capital": 7.0}},
    }


def test_simulated_rates_come_from_the_feed():
    from trading.exchanges import simfeed

    valuation = Valuation("ZAR", "simulated")
    rate = valuation.rate("USDT")
    ticker = simfeed.ticker("USDT/ZAR")
    assert rate is not None and abs(rate - (ticker["bid"] + ticker["ask"]) / 2) / rate < Decimal("0.001")
    assert valuation.rate("DOGE") is None


@pytest.mark.parametrize("source", ["simulated"])
def test_failed_lookups_are_unpriced_not_guessed(source):
    valuation = Valuation("ZAR", source, lookup=lambda *a: None)
    converted = valuation.convert({"ZAR": Decimal(5), "USDT": Decimal(3)})
    assert converted.total == 5 and converted.unpriced == {"USDT": Decimal(3)}
