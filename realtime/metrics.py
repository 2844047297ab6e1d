"""Prometheus metrics shared by every app (exposed at /metrics). Import and increment; never create metrics elsewhere.

Metrics live in the process that records them: with several Daphne processes each /metrics answer covers one process
(scrape every process, or set PROMETHEUS_MULTIPROC_DIR to an empty shared directory before start-up and /metrics
aggregates all of them; the connection gauges then sum the live processes).
"""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("amarktai_http_requests_total", "HTTP requests", ["method", "status"])
HTTP_LATENCY = Histogram("amarktai_http_request_seconds", "HTTP request latency", ["method"])
WS_CONNECTIONS = Gauge("amarktai_websocket_connections", "Open WebSocket connections", multiprocess_mode="livesum")
SSE_CONNECTIONS = Gauge("amarktai_sse_connections", "Open SSE streams", multiprocess_mode="livesum")
BOT_TICKS = Counter("amarktai_bot_ticks_total", "Bot ticks processed", ["outcome"])  # outcome: ok|error|skipped
# Set by every dispatcher round (bots.tasks.dispatch_ticks); across processes the most recently set value wins.
BOT_DISPATCH_LAG = Gauge(
    "amarktai_bot_dispatch_lag_seconds", "Oldest overdue active bot, seconds", multiprocess_mode="mostrecent"
)
BOT_TICK_SECONDS = Histogram(
    "amarktai_bot_tick_seconds",
    "Latency of one bot tick",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5),
)
ORDERS = Counter("amarktai_orders_total", "Orders placed", ["mode", "side", "status"])  # mode: paper|live
ERRORS = Counter("amarktai_errors_total", "Errors by area", ["area"])
EVENTS_PUBLISHED = Counter("amarktai_events_published_total", "Real-time events published", ["event"])
WS_MESSAGES = Counter("amarktai_websocket_messages_total", "Event messages sent to WebSocket clients", ["type"])
SSE_MESSAGES = Counter("amarktai_sse_messages_total", "Frames sent to SSE clients", ["event"])
