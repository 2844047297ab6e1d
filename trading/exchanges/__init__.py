"""Exchange access. The rest of the code base uses only these functions and the Exchange interface (base.py).

- get_exchange(user, platform_id, trading_mode="paper", credential=None) -> Exchange
    paper: PaperExchange (simulated balances, prices from market_data); live: the platform's adapter (ADAPTERS: ccxt
    for crypto exchanges, a broker's own module for stock brokers) with the user's stored, decrypted credential.
- connect(platform_id, keys) / public_exchange(platform_id): an adapter with keys (stored or a base.KeySet) / without.
- market_data(platform_id) -> object with fetch_ticker(symbol), fetch_ohlcv(symbol, timeframe, limit),
    fetch_ohlcv_since(symbol, timeframe, since_ms, limit) (paged history for backtests) and
    fetch_order_book(symbol, limit) ({"bids", "asks", "timestamp"}: the simulated feed's synthetic book, the one the
    paper exchange fills against, or the exchange's own)
    source "simulated": the deterministic simulated feed (simfeed); "live": the exchange's public API through the ccxt
    adapter, never replaced by the feed when it fails. Paper trading uses settings.MARKET_DATA_SOURCE; live trading
    always "live" (source_for(trading_mode)).
"""

import importlib
import logging

from django.conf import settings

from amarktai.errors import PermissionDenied, ProviderError, ValidationFailed
from trading.exchanges import simfeed
from trading.platforms import get_platform

logger = logging.getLogger(__name__)


class SimulatedMarketData:
    """The offline feed (simfeed): a deterministic price path every process computes alike."""

    source = "simulated"

    def __init__(self, platform_id):
        self.platform_id = platform_id

    def fetch_ticker(self, symbol):
        return simfeed.ticker(symbol)

    def fetch_ohlcv(self, symbol, timeframe="1m", limit=100):
        return simfeed.ohlcv(symbol, timeframe, limit)

    def fetch_ohlcv_since(self, symbol, timeframe, since_ms, limit=1000):
        """Up to ``limit`` closed candles from ``since_ms`` (a candle's open time) on: paged history (research)."""
        step_ms = simfeed.TIMEFRAMES[timeframe] * 60_000
        first = int(since_ms) // step_ms * step_ms
        limit = max(1, min(int(limit), 1000))
        now = (first + limit * step_ms) / 1000  # the candle after the page's last one is the one forming "now"
        return [row for row in simfeed.ohlcv(symbol, timeframe, limit, now=now) if int(row[0]) >= first]

    def fetch_order_book(self, symbol, limit=20):
        """The synthetic book the paper exchange fills against (trading.fillmodel), around the ticker's bid/ask."""
        from trading import fillmodel

        t = simfeed.ticker(symbol)
        return {**fillmodel.book_levels(symbol, t["bid"], t["ask"], limit), "timestamp": t["timestamp"]}

    # The paper exchange calls the feed with these names.
    def ticker(self, symbol, now=None):
        return self.fetch_ticker(symbol)

    def ohlcv(self, symbol, timeframe="1m", limit=100, now=None):
        return self.fetch_ohlcv(symbol, timeframe, limit)


class LiveMarketData(SimulatedMarketData):
    """The exchange's own public candles and tickers. Never substituted: when the exchange cannot be reached the call
    raises (ProviderError and friends), and the caller (a bot's tick) fails and says why."""

    source = "live"

    def _public(self):
        return public_exchange(self.platform_id)

    def fetch_ticker(self, symbol):
        return self._public().fetch_ticker(symbol)

    def fetch_ohlcv(self, symbol, timeframe="1m", limit=100):
        return self._public().fetch_ohlcv(symbol, timeframe, limit)

    def fetch_ohlcv_since(self, symbol, timeframe, since_ms, limit=1000):
        return self._public().fetch_ohlcv(symbol, timeframe, limit, since=int(since_ms))

    def fetch_order_book(self, symbol, limit=20):
        public = self._public()
        if not hasattr(public, "fetch_order_book"):
            raise ProviderError(f"{self.platform_id} publishes no order book")
        return public.fetch_order_book(symbol, limit)


SOURCES = {"simulated": SimulatedMarketData, "live": LiveMarketData}


def paper_source():
    """The data paper trading runs on: settings.MARKET_DATA_SOURCE ("simulated" or "live")."""
    source = settings.MARKET_DATA_SOURCE
    if source not in SOURCES:
        raise ValidationFailed(f"MARKET_DATA_SOURCE must be one of {', '.join(SOURCES)}, not {source!r}")
    return source


def source_for(trading_mode):
    """Live trading decides only on the exchange's real data; paper trading on the configured source."""
    return "live" if trading_mode == "live" else paper_source()


def market_data(platform_id, source=None):
    """Market data of one platform from ``source`` ("simulated" or "live"; default: what paper trading uses)."""
    if get_platform(platform_id) is None:
        raise ValidationFailed(f"Unknown exchange {platform_id!r}")
    return SOURCES[source or paper_source()](platform_id)


def paper_resting_order_users(platform_id, symbol, user_ids):
    """Which of ``user_ids`` have resting paper orders on ``symbol`` of ``platform_id`` (one query; the bot engine's
    batched tick asks it once per group)."""
    from trading.exchanges.paper import PaperExchange

    return PaperExchange.users_with_resting_orders(platform_id, symbol, user_ids)


_credential_lookup = None


def register_credential_lookup(lookup):
    """The wallets app (which keeps the encrypted keys, above trading) tells get_exchange where a user's credential
    for a platform comes from: ``lookup(user, platform_id) -> credential or None``."""
    global _credential_lookup
    _credential_lookup = lookup


# The adapter of each Platform.adapter: a module in trading/exchanges/ with
#   from_keys(platform, keys, **options) -> Exchange   (keys: a stored credential or a base.KeySet)
#   public(platform, **options) -> Exchange             (market data and health without keys)
# Only that module imports the exchange's or broker's client library.
ADAPTERS = {
    "ccxt": "trading.exchanges.ccxt_adapter",
    "mstock": "trading.exchanges.mstock_adapter",
    "alpaca": "trading.exchanges.alpaca_adapter",
    "openalgo": "trading.exchanges.openalgo_adapter",
}


def _adapter(platform):
    return importlib.import_module(ADAPTERS[platform.adapter])


def _platform_or_error(platform_id):
    platform = get_platform(platform_id)
    if platform is None:
        raise ValidationFailed(f"Unknown exchange {platform_id!r}")
    return platform


def connect(platform_id, keys, **options):
    """The live adapter of ``platform_id`` authenticated with ``keys`` (a stored credential or a base.KeySet).
    ``options`` (timeout_ms, max_retries) go to the adapter."""
    platform = _platform_or_error(platform_id)
    return _adapter(platform).from_keys(platform, keys, **options)


def public_exchange(platform_id, **options):
    """The adapter of ``platform_id`` without keys: public market data and reachability (health)."""
    platform = _platform_or_error(platform_id)
    return _adapter(platform).public(platform, **options)


def get_exchange(user, platform_id, trading_mode="paper", credential=None):
    platform = _platform_or_error(platform_id)
    if trading_mode == "paper":
        from trading.exchanges.paper import PaperExchange

        return PaperExchange(user, platform.id, feed=market_data(platform.id))
    if trading_mode != "live":
        raise ValidationFailed("trading_mode must be paper or live")
    if credential is None and _credential_lookup is not None:
        credential = _credential_lookup(user, platform.id)
    if credential is None or credential.user_id != user.pk:
        raise PermissionDenied(f"No valid API keys stored for {platform.name}")
    return connect(platform.id, credential)
