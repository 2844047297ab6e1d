from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self):
        from django.conf import settings

        from accounts import signals as account_signals
        from bots.scheduler import register_periodic
        from notifications.doctor import check_telegram, check_webhook_secrets
        from notifications.services import channels, delivery, devices, listener, reports, telegram
        from realtime import doctor, events
        from wallets.crypto import register_rotation

        events.add_listener(listener.on_event)
        account_signals.signed_in.connect(devices.on_signed_in, dispatch_uid="notifications.new_device")
        register_rotation("webhook secret", channels.rotate_encryption)
        doctor.register("telegram", check_telegram)
        doctor.register("webhook secrets", check_webhook_secrets, needs=("database", "migrations"))
        # Without Redis (no beat), the embedded scheduler in the web process starts these, on the notifications'
        # background threads: a slow Telegram API never delays the scheduler's bot ticks.
        register_periodic("notifications.periodic", lambda: delivery.in_background(reports.periodic), 300.0)
        register_periodic(
            "notifications.poll_telegram",
            lambda: delivery.in_background(telegram.poll_updates),
            settings.TELEGRAM_POLL_SECONDS,
        )
