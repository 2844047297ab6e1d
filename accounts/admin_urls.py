from django.urls import path

from accounts import admin_api

urlpatterns = [
    path("admin/users", admin_api.AdminUsersView.as_view()),
    path("admin/bots", admin_api.AdminBotsView.as_view()),
    path("admin/bot/<uuid:bot_id>/pause", admin_api.AdminBotPauseView.as_view()),
]
