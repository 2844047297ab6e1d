"""Exchange access. The rest of the code base uses only these functions and the Exchange interface (base.py).

- get_exchange(user, platform_id, trading_mode="paper", credential=None) -> Exchange
    paper: PaperExchange (simulated balances, prices from market_data); live: CcxtExchange with the user's stored,
    decrypted credential for that platform (the only place ccxt is used is ccxt_adapter.py).
- market_data(platform_id) -> object with fetch_ticker(symbol) and fetch_ohlcv(symbol, timeframe, limit)
    settings.MARKET_DATA_SOURCE == "simulated" (default): the deterministic simulated feed (simfeed);
    "live": the exchange's public API through the ccxt adapter, falling back to the simulated feed when unreachable.
"""

import logging

from django.conf import settings

from amarktai.errors import PermissionDenied, ValidationFailed
from trading.platforms import get_platform

logger = logging.getLogger(__name__)


class SimulatedMarketData:
    def __init__(self, platform_id):
        self.platform_id = platform_id

    def fetch_ticker(self, symbol):
        from trading.exchanges import simfeed

        return simfeed.ticker(symbol)

    def fetch_ohlcv(self, symbol, timeframe="1m", limit=100):
        from trading.exchanges import simfeed

        return simfeed.ohlcv(symbol, timeframe, limit)

    # The paper exchange calls the feed with these names.
    def ticker(self, symbol, now=None):
        return self.fetch_ticker(symbol)

    def ohlcv(self, symbol, timeframe="1m", limit=100, now=None):
        return self.fetch_ohlcv(symbol, timeframe, limit)


class LiveMarketData(SimulatedMarketData):
    """Public data from the real exchange; the simulated feed whenever the exchange cannot be reached."""

    def _public(self):
        from trading.exchanges.ccxt_adapter import CcxtExchange

        return CcxtExchange(self.platform_id)

    def fetch_ticker(self, symbol):
        try:
            return self._public().fetch_ticker(symbol)
        except Exception as exc:  # noqa: BLE001 - any failure falls back to the offline feed
            logger.warning("live ticker %s %s unavailable (%s): using the simulated feed", self.platform_id, symbol,
                           exc.__class__.__name__)
            return super().fetch_ticker(symbol)

    def fetch_ohlcv(self, symbol, timeframe="1m", limit=100):
        try:
            return self._public().fetch_ohlcv(symbol, timeframe, limit)
        except Exception as exc:  # noqa: BLE001
            logger.warning("live candles %s %s unavailable (%s): using the simulated feed", self.platform_id, symbol,
                           exc.__class__.__name__)
            return super().fetch_ohlcv(symbol, timeframe, limit)


def market_data(platform_id):
    if get_platform(platform_id) is None:
        raise ValidationFailed(f"Unknown exchange {platform_id!r}")
    if settings.MARKET_DATA_SOURCE == "live":
        return LiveMarketData(platform_id)
    return SimulatedMarketData(platform_id)


def get_exchange(user, platform_id, trading_mode="paper", credential=None):
    platform = get_platform(platform_id)
    if platform is None:
        raise ValidationFailed(f"Unknown exchange {platform_id!r}")
    if trading_mode == "paper":
        from trading.exchanges.paper import PaperExchange

        return PaperExchange(user, platform.id, feed=market_data(platform.id))
    if trading_mode != "live":
        raise ValidationFailed("trading_mode must be paper or live")
    if credential is None:
        from wallets.models import ExchangeCredential  # defined with the encrypted-keys feature

        credential = (ExchangeCredential.objects.filter(user=user, platform=platform.id)
                      .exclude(keys_valid=False).order_by("-created_at").first())
    if credential is None or credential.user_id != user.pk:
        raise PermissionDenied(f"No valid API keys stored for {platform.name}")
    from trading.exchanges.ccxt_adapter import CcxtExchange

    return CcxtExchange(platform.id, api_key=credential.api_key, api_secret=credential.api_secret,
                        passphrase=credential.passphrase or None)
