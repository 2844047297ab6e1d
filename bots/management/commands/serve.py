"""Serve Amarktai with uvicorn (uvloop, httptools): HTTP, WebSocket and SSE in one process. Without REDIS_URL (the
embedded default) the bot scheduler and the market-data service (trading.marketdata, when MARKET_DATA_SERVICE is on)
run in this same process, beside the in-memory channel layer and cache they share."""

from django.conf import settings
from django.core.management.base import BaseCommand

# The options deploy/amarktai-asgi.service and compose.yaml give the uvicorn command line; bench/bench_servers.py
# measured uvicorn against Daphne and granian on this application. No access log: WebSocket and SSE URLs carry
# ?token=. No proxy headers: the API reads X-Forwarded-For itself, from TRUSTED_PROXIES only.
UVICORN_OPTIONS = {
    "loop": "uvloop",
    "http": "httptools",
    "ws": "websockets-sansio",
    "lifespan": "off",
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
    "log_level": "warning",
    "timeout_graceful_shutdown": 10,
}


class Command(BaseCommand):
    help = "Serve HTTP, WebSocket and SSE with uvicorn (plus the embedded bot scheduler when REDIS_URL is unset)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-scheduler", action="store_true", help="do not run bot ticks in this process")
        parser.add_argument(
            "--no-market-data", action="store_true", help="do not run the market-data service in this process"
        )

    def handle(self, *args, host, port, no_scheduler, no_market_data=False, **options):
        import uvicorn

        from amarktai.asgi import application

        scheduler = None
        if not settings.REDIS_URL and not no_scheduler:
            from bots.scheduler import EmbeddedScheduler

            scheduler = EmbeddedScheduler()
            scheduler.start()
            self.stdout.write("Bot scheduler running in this process (embedded mode).")
        elif settings.REDIS_URL:
            self.stdout.write("REDIS_URL set: run `celery -A amarktai worker` and `celery -A amarktai beat` for bots.")
        market_data = None
        if not settings.REDIS_URL and settings.MARKET_DATA_SERVICE and not no_market_data:
            from trading.marketdata import MarketDataService

            market_data = MarketDataService().start_thread()
            self.stdout.write(f"Market-data service streaming in this process ({settings.MARKET_DATA_SOURCE} data).")
        elif settings.REDIS_URL and settings.MARKET_DATA_SERVICE:
            self.stdout.write("REDIS_URL set: run `python manage.py market_data` for the market-data service.")
        self.stdout.write(f"Amarktai on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs/)")
        self.stdout.flush()
        try:
            uvicorn.Server(uvicorn.Config(application, host=host, port=port, **UVICORN_OPTIONS)).run()
        finally:
            if market_data is not None:
                market_data.stop()
            if scheduler is not None:
                scheduler.stop()
