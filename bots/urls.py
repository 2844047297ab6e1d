from django.urls import path

from bots import views

urlpatterns = [
    path("bots", views.BotListView.as_view()),
    path("bots/<uuid:bot_id>", views.BotDetailView.as_view()),
    path("bots/<uuid:bot_id>/pause", views.BotPauseView.as_view()),
    path("bots/<uuid:bot_id>/round-trips", views.BotRoundTripsView.as_view()),
    path("bots/<uuid:bot_id>/equity", views.BotEquityView.as_view()),
    path("bots/<uuid:bot_id>/resume", views.BotResumeView.as_view()),
    path("bots/<uuid:bot_id>/exit", views.BotExitView.as_view()),
    path("bots/<uuid:bot_id>/webhooks", views.BotWebhookHistoryView.as_view()),
    path("bots/<uuid:bot_id>/webhook/rotate", views.BotWebhookRotateView.as_view()),
    path("webhooks/<str:token>", views.WebhookReceiveView.as_view()),
    path("strategies", views.StrategyListView.as_view()),
    path("bots/<uuid:bot_id>/history", views.BotHistoryView.as_view()),
    path("positions/<uuid:position_id>/close", views.PositionCloseView.as_view()),
    path("positions/<uuid:position_id>/exits", views.PositionExitsView.as_view()),
    path("positions/<uuid:position_id>/supertrend-exit", views.PositionSupertrendExitView.as_view()),
    path("metrics", views.MetricsView.as_view()),
    path("signals", views.SignalListView.as_view()),
    path("signals/filter", views.SignalFilterView.as_view()),
    path("signals/<uuid:signal_id>", views.SignalDetailView.as_view()),
]
