from django.urls import path

from ranking import views

urlpatterns = [
    path("optimizations", views.OptimizationListView.as_view()),
    path("optimizations/<uuid:optimization_id>", views.OptimizationDetailView.as_view()),
    path("models", views.ModelListView.as_view()),
    path("models/train", views.ModelTrainView.as_view()),
    path("models/deploy", views.ModelDeployView.as_view()),
    path("models/deploy/confirm", views.ModelDeployConfirmView.as_view()),
]
