from django.apps import AppConfig


class ControlConfig(AppConfig):
    """Operating the platform: the user's kill switch API, configuration sections with export/import, and the
    admins' system start/stop/restart (control.services)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "control"

    def ready(self):
        from control import portability

        portability.register_builtin_parts()
