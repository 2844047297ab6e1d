from django.urls import path

from control import views

urlpatterns = [
    path("trading/stop", views.TradingStopView.as_view()),
    path("trading/start", views.TradingStartView.as_view()),
    path("trading/status", views.TradingStatusView.as_view()),
    path("system/start", views.SystemControlView.as_view(action="start")),
    path("system/stop", views.SystemControlView.as_view(action="stop")),
    path("system/restart", views.SystemControlView.as_view(action="restart")),
    path("config", views.ConfigView.as_view()),
    path("config/export", views.ConfigExportView.as_view()),
    path("config/import", views.ConfigImportView.as_view()),
    path("config/<str:section>", views.ConfigSectionView.as_view()),
]
