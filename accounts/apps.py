from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from accounts.authentication import invalidate_user

        post_save.connect(invalidate_user, sender=get_user_model(), dispatch_uid="accounts-user-cache-save")
        post_delete.connect(invalidate_user, sender=get_user_model(), dispatch_uid="accounts-user-cache-delete")
