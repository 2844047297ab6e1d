from django.apps import AppConfig


class TradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "trading"

    def ready(self):
        from realtime.providers import register_health_component
        from trading.health import check_exchanges, check_market_data

        register_health_component("exchanges", check_exchanges)
        register_health_component("market_data", check_market_data)

        from trading.exchanges.ratelimit import health as rate_limits

        register_health_component("rate_limits", rate_limits)

        from realtime import doctor
        from trading.exchanges.ratelimit import doctor_check

        doctor.register("rate limiter", doctor_check, needs=("cache",))

        from trading.tallies import connect_signals

        connect_signals()
