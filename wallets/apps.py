from django.apps import AppConfig


class WalletsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "wallets"

    def ready(self):
        from trading.exchanges import register_credential_lookup
        from wallets.selectors import live_credential

        register_credential_lookup(live_credential)
