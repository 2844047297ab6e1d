"""Market endpoints, the market scan and the WebSocket market subscriptions (market app, realtime consumer)."""

from amarktai.settings.env import env_float, env_int

__all__ = [
    "MARKET_INDEX_SECONDS",
    "MARKET_SCAN_SECONDS",
    "MARKET_UPDATES_PER_SECOND",
    "MARKET_WS_MAX_SYMBOLS_PER_CONNECTION",
    "MARKET_WS_MAX_SYMBOLS_PER_USER",
]

# How often the market scan runs every strategy over the watched markets (beat; the embedded scheduler in process).
MARKET_SCAN_SECONDS = env_float("MARKET_SCAN_SECONDS", 300)
# How often the reference indices are computed from the cached tickers and sent as index_update.
MARKET_INDEX_SECONDS = env_float("MARKET_INDEX_SECONDS", 30)
# The most market_update messages a subscribed client receives per second per market (newer tickers are coalesced).
MARKET_UPDATES_PER_SECOND = env_float("MARKET_UPDATES_PER_SECOND", 2)
# How many markets one WebSocket connection, and one user over all connections, may subscribe to.
MARKET_WS_MAX_SYMBOLS_PER_CONNECTION = env_int("MARKET_WS_MAX_SYMBOLS_PER_CONNECTION", 50)
MARKET_WS_MAX_SYMBOLS_PER_USER = env_int("MARKET_WS_MAX_SYMBOLS_PER_USER", 200)
