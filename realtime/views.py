from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from amarktai.utils import iso_now
from realtime import health, providers


class PingView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request):
        return Response({"status": "ok", "timestamp": iso_now()})


class SystemStatusView(GenericAPIView):
    def get(self, request):
        db_ok, _ = health.check_database()
        layer_ok, _ = health.check_channel_layer()
        counts = providers.user_snapshot("bot_counts", request.user.pk) if db_ok else {"active": None, "total": None}
        realtime_state = "active" if layer_ok else "unavailable"
        status = {
            "database": "connected" if db_ok else "disconnected",
            "websocket": realtime_state,
            "sse": realtime_state,
            "api": "operational" if db_ok and layer_ok else "degraded",
            "bots_active": counts["active"],
            "bots_total": counts["total"],
        }
        return Response({"success": True, "status": status, "timestamp": iso_now()})


def _status(ok):
    return "ok" if ok else "down"


class HealthView(GenericAPIView):
    """GET /api/health (public, for load balancers): database and cache answer -> "ok", else "degraded"."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request):
        db_ok, _ = health.check_database()
        cache_ok, _ = health.check_cache()
        return Response({"status": "ok" if db_ok and cache_ok else "degraded", "timestamp": iso_now()})


class HealthComponentsView(GenericAPIView):
    """GET /api/health/components (authenticated): each dependency with its own status and detail."""

    def get(self, request):
        db_ok, db = health.check_database()
        cache_ok, cache_detail = health.check_cache()
        layer_ok, layer = health.check_channel_layer()
        celery_ok, celery = health.check_celery()
        components = {
            "database": {"status": _status(db_ok), **db},
            "cache": {"status": _status(cache_ok), **cache_detail},
            "channel_layer": {"status": _status(layer_ok), **layer},
            "celery": {"status": "embedded" if celery.get("mode") == "embedded" else _status(celery_ok), **celery},
        }
        overall = all((db_ok, cache_ok, layer_ok, celery_ok))
        for name, check in providers.health_components():
            ok, detail = check()
            components[name] = {"status": _status(ok), **detail}
            overall = overall and ok
        return Response(
            {
                "success": True,
                "status": "ok" if overall else "degraded",
                "components": components,
                "timestamp": iso_now(),
            }
        )


def metrics_view(request):
    """GET /metrics in the Prometheus text format.

    Meant for the internal network only (nginx.conf restricts it). If settings.METRICS_TOKEN is set, a matching
    ``Authorization: Bearer <token>`` is also required. With PROMETHEUS_MULTIPROC_DIR set, all processes are aggregated.
    """
    import hmac

    from django.conf import settings
    from django.http import HttpResponse
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    if request.method not in ("GET", "HEAD"):
        return HttpResponse("method not allowed\n", status=405, content_type="text/plain")
    registry = REGISTRY
    if settings.PROMETHEUS_MULTIPROC_DIR:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
