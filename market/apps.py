from django.apps import AppConfig


class MarketConfig(AppConfig):
    """Market data shared by every user: the users' watch lists (instruments) and their price alerts, the market
    endpoints (quote, depth, candles, indices, scan) and the WebSocket market feed. Sits just above trading (it reads
    the platforms' markets and tickers through trading.exchanges and trading.marketcache).

    ready() fills the registries of the lower layers: realtime.markets learns how to resolve and want a market, and
    trading.marketcache gets the listener that fans tickers out as ``market_update`` (market.feed)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "market"

    def ready(self):
        from market import feed
        from realtime import markets
        from trading import marketcache

        markets.register(feed.resolve, feed.want)
        marketcache.add_listener(feed.coalescer.listener)
