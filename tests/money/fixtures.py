"""Fixed market prices for money tests: every conversion and position price comes from one table, so the expected
totals are exact. Import the fixture into a test module:

    from tests.money.fixtures import fixed_prices  # noqa: F401
"""

from decimal import Decimal

import pytest

# One USDT (and one USD) is R 18; BTC is 100 000 USD(T) = R 1 800 000; ETH is R 50 000; a rand is 5 rupees.
PRICES = {
    "ZAR/INR": Decimal("5"),
    "USD/INR": Decimal("90"),
    "USDT/ZAR": Decimal("18"),
    "BTC/ZAR": Decimal("1800000"),
    "BTC/USDT": Decimal("100000"),
    "BTC/USD": Decimal("100000"),
    "ETH/ZAR": Decimal("50000"),
}


class FixedPrices:
    def __init__(self):
        self.table = dict(PRICES)
        self.calls = []  # (source, exchange, symbol) of every position price asked for

    def mid(self, source, platform_id, symbol):
        return self.table.get(symbol)

    def position_price(self, exchange, symbol, source):
        self.calls.append((source, exchange, symbol))
        if source == "live" and symbol not in self.live:
            return None  # the exchange cannot be reached: no price, never the simulated one
        return self.table.get(symbol)

    live: set = frozenset()


@pytest.fixture
def fixed_prices(monkeypatch):
    from trading import selectors, valuation

    prices = FixedPrices()
    valuation.clear_cache()
    monkeypatch.setattr(valuation, "cached_mid", prices.mid)
    monkeypatch.setattr(selectors, "_price", prices.position_price)
    yield prices
    valuation.clear_cache()
