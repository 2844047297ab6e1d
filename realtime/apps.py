from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "realtime"

    def ready(self):
        from django.db.models.signals import post_delete, post_save, pre_save

        from accounts.models import ApiKey, User
        from accounts.signals import sessions_revoked
        from realtime import events, sessions, translate

        # Events carry their WebSocket text, encoded once by the publisher (realtime.events).
        events.set_ws_translator(translate.ws_message)

        # Open WebSockets and SSE streams end when their user is deactivated or deleted, loses admin rights, revokes
        # the API key they were opened with, or revokes every session (realtime/sessions.py).
        pre_save.connect(sessions.user_pre_save, sender=User, dispatch_uid="realtime-sessions-user-pre-save")
        post_save.connect(sessions.user_post_save, sender=User, dispatch_uid="realtime-sessions-user-post-save")
        post_delete.connect(sessions.user_post_delete, sender=User, dispatch_uid="realtime-sessions-user-delete")
        post_save.connect(sessions.api_key_post_save, sender=ApiKey, dispatch_uid="realtime-sessions-key-save")
        post_delete.connect(sessions.api_key_post_delete, sender=ApiKey, dispatch_uid="realtime-sessions-key-delete")
        sessions_revoked.connect(sessions.on_sessions_revoked, dispatch_uid="realtime-sessions-revoked")
