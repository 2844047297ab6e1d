from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self):
        from django.conf import settings

        from accounts import signals as account_signals
        from bots.scheduler import register_periodic
        from notifications.services import devices, listener, reports, telegram
        from realtime import events

        events.add_listener(listener.on_event)
        account_signals.signed_in.connect(devices.on_signed_in, dispatch_uid="notifications.new_device")
        # Without Redis (no beat), the embedded scheduler in the web process runs these.
        register_periodic("notifications.periodic", reports.periodic, 300.0)
        register_periodic("notifications.poll_telegram", telegram.poll_updates, settings.TELEGRAM_POLL_SECONDS)
