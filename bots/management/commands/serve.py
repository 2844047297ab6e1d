"""Serve Amarktai with Daphne. Without REDIS_URL (the embedded default) the bot scheduler runs in this same process."""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve HTTP, WebSocket and SSE with Daphne (plus the embedded bot scheduler when REDIS_URL is unset)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-scheduler", action="store_true", help="do not run bot ticks in this process")

    def handle(self, *args, host, port, no_scheduler, **options):
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from amarktai.asgi import application

        scheduler = None
        if not settings.REDIS_URL and not no_scheduler:
            from bots.scheduler import EmbeddedScheduler

            scheduler = EmbeddedScheduler()
            scheduler.start()
            self.stdout.write("Bot scheduler running in this process (embedded mode).")
        elif settings.REDIS_URL:
            self.stdout.write("REDIS_URL set: run `celery -A amarktai worker` and `celery -A amarktai beat` for bots.")
        self.stdout.write(f"Amarktai on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs/)")
        try:
            Server(
                application=application,
                endpoints=build_endpoint_description_strings(host=host, port=port),
                verbosity=0,
                websocket_timeout=86400,
                application_close_timeout=10,
            ).run()
        finally:
            if scheduler is not None:
                scheduler.stop()
