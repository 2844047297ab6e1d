from django.urls import path

from market import views

urlpatterns = [
    path("instruments", views.InstrumentListView.as_view()),
    path("instruments/<uuid:instrument_id>", views.InstrumentDetailView.as_view()),
    path("market/quote", views.QuoteView.as_view()),
    path("market/depth", views.DepthView.as_view()),
    path("market/ohlcv", views.OhlcvView.as_view()),
    path("market/indices", views.IndicesView.as_view()),
    path("market/scan", views.ScanView.as_view()),
]
