from django.apps import AppConfig


class TradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "trading"

    def ready(self):
        from realtime.providers import register_health_component
        from trading.health import check_exchanges, check_market_data

        register_health_component("exchanges", check_exchanges)
        register_health_component("market_data", check_market_data)

        from trading.tallies import connect_signals

        connect_signals()
