"""Prometheus metrics shared by every app (exposed at /metrics). Import and increment; never create metrics elsewhere.

Without PROMETHEUS_MULTIPROC_DIR the metrics live in the process that records them, and /metrics answers for the one
process that serves the request. Production sets PROMETHEUS_MULTIPROC_DIR, before any process starts, to one shared
directory per host that is empty when the services start (docs/operations.md, "Metrics"): every gunicorn worker, Daphne
process and Celery worker process then writes its values to files there, and /metrics on any of them reads them all.
How each metric adds up across processes:

- counters and histograms: summed over every process that ever wrote them since the directory was emptied, the dead
  ones included (a restarted worker does not take its counts with it);
- the connection gauges (``livesum``): summed over live processes only. A process that exits is marked dead by
  gunicorn's ``child_exit`` hook (deploy/gunicorn.conf.py), Celery's worker shutdown signals (amarktai/celery.py), or
  otherwise (Daphne, a killed worker) by ``multiprocess_registry`` at the next scrape, which drops the live-gauge files
  of processes that no longer run;
- the dispatch lag (``mostrecent``): the value set last, by whichever worker process.
"""

import os
import re

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
# The order-status poller (trading.poller). Lag: how long an open live order has gone without a status sync. The
# gauge is set per exchange by every planning round (the oldest such order, backing-off accounts included); the
# histogram observes each order as the poller reaches it.
ORDER_POLL_LAG = Gauge(
    "amarktai_order_poll_lag_seconds",
    "Oldest open live order's time since its last status sync, seconds",
    ["exchange"],
    multiprocess_mode="mostrecent",
)
ORDER_POLL_ORDER_LAG = Histogram(
    "amarktai_order_poll_order_lag_seconds",
    "Time since an open live order's last status sync when the poller reached it",
    buckets=(1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 1800, 3600),
)
ORDER_POLLS = Counter(
    "amarktai_order_polls_total", "Account polls of the order-status poller", ["exchange", "outcome"]
)  # outcome: ok|error|backing_off
ORDERS = Counter("amarktai_orders_total", "Orders placed", ["mode", "side", "status"])  # mode: paper|live
ERRORS = Counter("amarktai_errors_total", "Errors by area", ["area"])
EVENTS_PUBLISHED = Counter("amarktai_events_published_total", "Real-time events published", ["event"])
WS_MESSAGES = Counter("amarktai_websocket_messages_total", "Event messages sent to WebSocket clients", ["type"])
SSE_MESSAGES = Counter("amarktai_sse_messages_total", "Frames sent to SSE clients", ["event"])
# The shared exchange rate limiter (trading.exchanges.ratelimit). scope: key|ip; bucket: the egress id, or an API key's
# HMAC id (never the key). Gauges: the value set last by any process (the buckets themselves live in Redis).
RATELIMIT_CALLS = Counter("amarktai_ratelimit_calls_total", "REST calls let through a bucket", ["exchange", "scope"])
RATELIMIT_COST = Counter(
    "amarktai_ratelimit_cost_total", "Tokens (ccxt endpoint weights) taken from buckets", ["exchange", "scope"]
)
RATELIMIT_WAIT = Histogram(
    "amarktai_ratelimit_wait_seconds",
    "Time a REST call waited for its buckets",
    ["exchange"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
RATELIMIT_REFUSED = Counter(
    "amarktai_ratelimit_refused_total", "Calls refused (RateLimited) rather than waiting too long", ["exchange"]
)
RATELIMIT_BACKOFFS = Counter(
    "amarktai_ratelimit_backoffs_total", "429/418 answers that backed a bucket off", ["exchange", "scope", "reason"]
)
RATELIMIT_TOKENS = Gauge(
    "amarktai_ratelimit_tokens",
    "Tokens left in a bucket after the last call",
    ["exchange", "scope", "bucket"],
    multiprocess_mode="mostrecent",
)
RATELIMIT_BACKOFF_UNTIL = Gauge(
    "amarktai_ratelimit_backoff_until_seconds",
    "Epoch seconds until which a bucket backs off (past: not backing off)",
    ["exchange", "scope", "bucket"],
    multiprocess_mode="mostrecent",
)

# gauge_<mode>_<pid>.db: the per-process files of the gauges that count live processes only.
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def sweep_dead_processes(path):
    """Mark dead every process that left live-gauge files in ``path`` but no longer runs (a Daphne process that was
    restarted, a worker killed with SIGKILL): its open-connection counts stop adding up. Counters are not touched. The
    processes sharing ``path`` must run on this host, in one PID namespace. Returns the PIDs swept."""
    from prometheus_client import multiprocess

    swept = set()
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return swept
    for name in names:
        match = _LIVE_GAUGE_FILE.match(name)
        if match and int(match.group(1)) not in swept and not _running(int(match.group(1))):
            swept.add(int(match.group(1)))
            multiprocess.mark_process_dead(int(match.group(1)), path)
    return swept


def multiprocess_registry(path):
    """A registry that reads every process's metrics from the PROMETHEUS_MULTIPROC_DIR ``path`` (dead processes'
    live gauges swept first)."""
    from prometheus_client import CollectorRegistry, multiprocess

    sweep_dead_processes(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path)
    return registry


def mark_process_dead(pid, path):
    """Drop the live-gauge values of ``pid``, which is exiting or has exited (no-op without a ``path``)."""
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)


# The fan-out hub (realtime.hub). kind: market|events; reason: superseded (a market ticker replaced by a newer one of
# the same market, by design), overflow (a consumer fell MAX_PENDING messages behind: the oldest pending one dropped).
HUB_DROPPED = Counter(
    "amarktai_realtime_hub_dropped_total", "Messages a consumer's hub queue dropped", ["kind", "reason"]
)
# A process's Redis subscription was lost and is confirmed again: its streams replay what they missed (realtime.hub).
HUB_GAPS = Counter("amarktai_realtime_hub_gaps_total", "Redis subscription gaps of this process's fan-out hub")
