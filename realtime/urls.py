from django.urls import path

from realtime import views

urlpatterns = [
    path("system/ping", views.PingView.as_view()),
    path("system/status", views.SystemStatusView.as_view()),
    path("health", views.HealthView.as_view()),
    path("health/components", views.HealthComponentsView.as_view()),
]
