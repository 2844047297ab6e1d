from django.urls import path

from market import views

urlpatterns = [
    path("instruments", views.InstrumentListView.as_view()),
    path("instruments/<uuid:instrument_id>", views.InstrumentDetailView.as_view()),
]
