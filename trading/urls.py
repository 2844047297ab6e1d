from django.urls import path

from trading import views, views_catalogue

urlpatterns = [
    path("system/platforms", views_catalogue.PlatformCatalogueView.as_view()),
    path("providers", views_catalogue.ProviderListView.as_view()),
    path("trades", views.TradeListView.as_view()),
    path("trades/round-trips", views.RoundTripListView.as_view()),
    path("trades/export", views.TradeExportView.as_view()),
    path("positions", views.PositionListView.as_view()),
    path("orders", views.OrderListView.as_view()),
    path("orders/<uuid:order_id>", views.OrderDetailView.as_view()),
    path("orders/<uuid:order_id>/cancel", views.OrderCancelView.as_view()),
]
