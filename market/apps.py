from django.apps import AppConfig


class MarketConfig(AppConfig):
    """Market data shared by every user: the users' watch lists (instruments) and their price alerts; the future home of
    the market scan. Sits just above trading (it reads the platforms' markets and tickers through trading.exchanges)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "market"
