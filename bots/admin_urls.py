from django.urls import path

from bots import admin_api

urlpatterns = [
    path("admin/bots", admin_api.AdminBotsView.as_view()),
    path("admin/bot/<uuid:bot_id>/pause", admin_api.AdminBotPauseView.as_view()),
    path("admin/bot/<uuid:bot_id>/unlock", admin_api.AdminBotUnlockView.as_view()),
]
