from django.apps import AppConfig


class RankingConfig(AppConfig):
    """Parameter search, the platform-wide strategy ranking ("models"), deploy-to-bot and experiment tracking. Sits
    above research (it replays candles with research.backtest.run_backtest) and bots (it switches bots' strategies)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "ranking"

    def ready(self):
        from bots.scheduler import register_periodic
        from ranking import tasks

        register_periodic("ranking.rank_models", tasks.rank_models_periodic, every=self._every())

    @staticmethod
    def _every():
        from django.conf import settings

        return settings.RANKING_SECONDS
