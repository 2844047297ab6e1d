"""Request count and latency for Prometheus (labels: method, status; never the path, to keep cardinality bounded)."""

import time

from realtime.metrics import HTTP_LATENCY, HTTP_REQUESTS

_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


class PrometheusMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        method = request.method if request.method in _METHODS else "OTHER"
        response = self.get_response(request)
        HTTP_LATENCY.labels(method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(method, str(response.status_code)).inc()
        return response
