import ipaddress

from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from amarktai.errors import SERVICE_UNAVAILABLE, error_body
from amarktai.utils import address_in, client_ip, iso_now
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
        trading = providers.user_snapshot("trading_state", request.user.pk) if db_ok else None
        realtime_state = "active" if layer_ok else "unavailable"
        status = {
            "database": "connected" if db_ok else "disconnected",
            "websocket": realtime_state,
            "sse": realtime_state,
            "api": "operational" if db_ok and layer_ok else "degraded",
            "bots_active": counts["active"],
            "bots_total": counts["total"],
            # The platform's trading switch (admins' POST /api/system/stop) and the user's own kill switch.
            "trading": trading["system"]["status"] if trading else None,
            "user_trading": trading["user"] if trading else None,
        }
        body = {"success": True, "status": status, "timestamp": iso_now()}
        if trading:
            body["system"] = trading["system"]
        return Response(body)


def _status(ok):
    return "ok" if ok else "down"


class HealthView(GenericAPIView):
    """GET /api/health (public, for load balancers).

    200 ``{"status": "ok"}`` when the database and the cache answer; 200 ``{"status": "degraded"}`` when only the cache
    is down (requests are still served: the cache's outages are absorbed); 503 ``{"status": "degraded"}`` in the error
    schema when the database is down, locked or slower than HEALTH_DB_TIMEOUT_MS, so a load balancer stops sending
    traffic this instance cannot serve. ``components`` says which part is down (no details: this endpoint is public).
    """

    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request):
        db_ok, _ = health.check_database()
        cache_ok, _ = health.check_cache()
        body = {
            "status": "ok" if db_ok and cache_ok else "degraded",
            "components": {"database": _status(db_ok), "cache": _status(cache_ok)},
            "timestamp": iso_now(),
        }
        if db_ok:
            return Response(body)
        unavailable = error_body("The database is not answering", SERVICE_UNAVAILABLE)
        return Response({**unavailable, **body}, status=503, headers={"Retry-After": "5"})


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


# The networks nginx.conf's `location = /metrics` allows: loopback and the private ranges.
_INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


def _is_internal(address):
    return address_in(address, _INTERNAL_NETWORKS)


def metrics_view(request):
    """GET /metrics in the Prometheus text format.

    With settings.METRICS_TOKEN set, a matching ``Authorization: Bearer <token>`` is required, from anywhere. Without
    it, only a client on loopback or a private network may scrape (the same list nginx.conf allows), judged by
    ``client_ip``: the peer, or behind a trusted proxy the address the proxy saw. So an app reachable without nginx, or
    an nginx whose /metrics location was lost, does not publish its metrics to the internet. With
    PROMETHEUS_MULTIPROC_DIR set, every process on the host that shares the directory (gunicorn workers, Daphne, Celery
    workers) is aggregated, so any one process's /metrics answers for all of them (realtime/metrics.py).
    """
    import hmac

    from django.conf import settings
    from django.http import HttpResponse
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    elif not _is_internal(client_ip(request)):
        return HttpResponse(
            "forbidden: /metrics answers internal addresses only (or set METRICS_TOKEN)\n",
            status=403,
            content_type="text/plain",
        )
    if request.method not in ("GET", "HEAD"):
        return HttpResponse("method not allowed\n", status=405, content_type="text/plain")
    registry = REGISTRY
    if settings.PROMETHEUS_MULTIPROC_DIR:
        from realtime.metrics import multiprocess_registry

        registry = multiprocess_registry(settings.PROMETHEUS_MULTIPROC_DIR)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
