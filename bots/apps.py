from django.apps import AppConfig


class BotsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bots"

    def ready(self):
        from bots import pnl, risk, selectors
        from bots.doctor import check_beat
        from bots.market_scan import evaluate
        from market import scan
        from realtime import doctor, providers
        from trading import fills
        from wallets.services import balances

        selectors.connect_signals()
        fills.register(pnl.listener)
        fills.register(risk.listener)
        providers.register_user_snapshot("overview", selectors.overview)
        providers.register_user_snapshot("total_bots", selectors.total_bots)
        providers.register_user_snapshot("bot_counts", selectors.bot_counts)
        balances.register_allocations(selectors.bot_allocations)
        providers.register_user_snapshot("trading_state", selectors.trading_state)
        doctor.register("celery beat", check_beat, needs=("cache",))
        scan.register_evaluator(evaluate)
