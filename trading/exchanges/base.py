"""The one interface every exchange implements: the ccxt adapter (live) and the paper exchange alike,
so a bot cannot tell paper from live. Amounts and prices are Decimal everywhere.

Shapes (plain dicts, ccxt-like, values Decimal):
- ticker:  {"symbol", "bid", "ask", "last", "timestamp"(ms)}
- candle:  [timestamp_ms, open, high, low, close, volume]
- balance: {"BTC": {"free", "used", "total"}, ...}
- order:   {"id", "client_order_id", "symbol", "type" (market|limit), "side" (buy|sell), "amount", "price",
            "filled", "remaining", "average", "cost", "status" (open|closed|canceled|rejected),
            "fee": {"cost", "currency"}, "timestamp"(ms)}
- market:  {"symbol", "base", "quote", "amount_precision", "price_precision", "min_amount", "max_amount",
            "min_cost", "max_market_amount"}
"""

from abc import ABC, abstractmethod


class Exchange(ABC):
    platform_id: str

    @abstractmethod
    def load_markets(self) -> dict: ...

    @abstractmethod
    def fetch_ticker(self, symbol: str) -> dict: ...

    @abstractmethod
    def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", limit: int = 100) -> list: ...

    @abstractmethod
    def fetch_balance(self) -> dict: ...

    @abstractmethod
    def create_order(self, symbol, type, side, amount, price=None, client_order_id=None) -> dict: ...

    @abstractmethod
    def cancel_order(self, order_id, symbol=None) -> dict: ...

    @abstractmethod
    def fetch_order(self, order_id, symbol=None) -> dict: ...

    @abstractmethod
    def fetch_open_orders(self, symbol=None) -> list: ...
