from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from realtime.views import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/", include("bots.urls")),  # first: GET /api/bots is the hottest route, resolved by a linear scan
    path("api/", include("accounts.urls")),
    path("api/", include("realtime.urls")),
    path("api/", include("trading.urls")),
    path("api/", include("market.urls")),
    path("api/", include("wallets.urls")),
    path("api/", include("mirror.urls")),
    path("api/", include("research.urls")),
    path("api/", include("chat.urls")),
    path("api/", include("control.urls")),
    path("api/", include("notifications.urls")),
    path("api/", include("ranking.urls")),
    path("api/", include("accounts.admin_urls")),
    path("api/", include("bots.admin_urls")),
    path("metrics", metrics_view, name="metrics"),
]
urlpatterns.append(path("", include("amarktai.portal")))
