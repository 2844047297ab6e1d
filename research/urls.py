from django.urls import path

from research import views

urlpatterns = [
    path("backtests", views.BacktestListView.as_view()),
    path("backtests/<uuid:backtest_id>", views.BacktestDetailView.as_view()),
]
