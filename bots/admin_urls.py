from django.urls import path

from bots import admin_api, admin_detail

urlpatterns = [
    path("admin/bots", admin_api.AdminBotsView.as_view()),
    path("admin/bot/<uuid:bot_id>/pause", admin_api.AdminBotPauseView.as_view()),
    path("admin/bot/<uuid:bot_id>", admin_detail.AdminBotDetailView.as_view()),
    path("admin/bot/<uuid:bot_id>/round-trips", admin_detail.AdminBotRoundTripsView.as_view()),
    path("admin/bot/<uuid:bot_id>/equity", admin_detail.AdminBotEquityView.as_view()),
    path("admin/bot/<uuid:bot_id>/unlock", admin_api.AdminBotUnlockView.as_view()),
]
