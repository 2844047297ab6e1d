from django.urls import path

from bots import views

urlpatterns = [
    path("bots", views.BotListView.as_view()),
    path("bots/<uuid:bot_id>", views.BotDetailView.as_view()),
    path("bots/<uuid:bot_id>/pause", views.BotPauseView.as_view()),
    path("bots/<uuid:bot_id>/resume", views.BotResumeView.as_view()),
    path("bots/<uuid:bot_id>/exit", views.BotExitView.as_view()),
    path("positions/<uuid:position_id>/close", views.PositionCloseView.as_view()),
    path("metrics", views.MetricsView.as_view()),
]
