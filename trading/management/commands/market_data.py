"""The market-data service as its own process (production): ``python manage.py market_data``.

One streaming connection per exchange for every market in demand, written to the shared cache (Redis) that every web
process and worker reads (trading.marketdata). Without REDIS_URL the cache is each process's own memory, so there
`manage.py serve` runs the service as a thread instead and this command refuses to start (unless --force).
SIGTERM / SIGINT stop it cleanly (connections closed)."""

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trading.marketdata import MarketDataService


class Command(BaseCommand):
    help = "Run the market-data service: one stream per exchange for every market in demand (production process)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run even without REDIS_URL (its cache is private)")

    def handle(self, *args, force=False, **options):
        if not settings.REDIS_URL and not force:
            raise CommandError(
                "REDIS_URL is unset: the cache would be this process's own memory, which nobody else reads. "
                "In the embedded default `manage.py serve` (make run) runs the market-data service in process."
            )
        if not settings.MARKET_DATA_SERVICE:
            self.stderr.write("MARKET_DATA_SERVICE is off: bots fetch their candles over REST and ignore this service.")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        self.stdout.write(f"Market-data service streaming {settings.MARKET_DATA_SOURCE} data (live bots: live).")
        self.stdout.flush()
        asyncio.run(self._run(MarketDataService()))

    async def _run(self, service):
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(service.run())
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, service.stop_soon)
        await task
