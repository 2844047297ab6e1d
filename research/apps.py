from django.apps import AppConfig


class ResearchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "research"

    def ready(self):
        from bots.scheduler import register_periodic
        from research import services

        # Embedded mode only (the embedded scheduler runs without Redis): backtests a restart left behind.
        register_periodic("research.resume_orphans", services.resume_orphans, 30.0)
