from django.apps import AppConfig


class WalletsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "wallets"

    def ready(self):
        from realtime import doctor
        from trading.exchanges import register_credential_lookup
        from wallets.doctor import check_encryption
        from wallets.selectors import live_credential

        register_credential_lookup(live_credential)
        from realtime import providers
        from wallets.services.accounts import account_pnl, owns_account

        providers.register_account_snapshot("owns", owns_account)
        providers.register_account_snapshot("pnl", account_pnl)
        doctor.register("encryption", check_encryption, needs=("database", "migrations"))
