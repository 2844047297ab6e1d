"""The embedded scheduler: without Redis, a daemon thread in the web process does what Celery beat does in production
(dispatch bot ticks every BOT_TICK_SECONDS / 2, sync open orders every 15 s, check price alerts every
PRICE_ALERT_SECONDS, prune old signals hourly, scan the markets every MARKET_SCAN_SECONDS, recompute the reference
indices every MARKET_INDEX_SECONDS). Tasks run eagerly in that thread, so events reach the in-memory channel
layer of the same process.

Apps above bots add their own periodic jobs (what beat runs for them in production) with ``register_periodic``."""

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

# name -> (function, seconds between two runs, or None: every round)
_periodic = {}


def register_periodic(name, fn, every=None):
    """Run ``fn()`` from the embedded scheduler every ``every`` seconds (None: every round). Registering a name again
    replaces it."""
    _periodic[name] = (fn, every)


class InBackground:
    """A slow periodic job (the market scan, the indices) run in a thread of its own, so the bots' ticks are not held
    up behind it; a run still going when the next is due is not started twice."""

    def __init__(self, task):
        self.task = task
        self.name = task.name
        self.thread = None

    def _run(self):
        try:
            self.task()
        except Exception:
            logger.exception("embedded periodic job %s failed", self.name)
        finally:
            close_old_connections()

    def __call__(self):
        if self.thread is not None and self.thread.is_alive():
            return
        self.thread = threading.Thread(target=self._run, name=f"amarktai-{self.name}", daemon=True)
        self.thread.start()


class EmbeddedScheduler(threading.Thread):
    def __init__(self, tick_every=None, orders_every=15.0):
        super().__init__(name="amarktai-scheduler", daemon=True)
        self.tick_every = tick_every or max(settings.BOT_TICK_SECONDS / 2, 1.0)
        self.orders_every = orders_every
        self.stopped = threading.Event()

    def periodic(self):
        """(task, seconds between runs) of the other beat entries: price alerts, signal pruning, the market scan and
        the reference indices."""
        from bots.tasks import prune_signals
        from market.tasks import check_price_alerts, refresh_indices, scan_markets

        return [
            (check_price_alerts, settings.PRICE_ALERT_SECONDS),
            (prune_signals, settings.SIGNAL_PRUNE_SECONDS),
            (InBackground(scan_markets), settings.MARKET_SCAN_SECONDS),
            (InBackground(refresh_indices), settings.MARKET_INDEX_SECONDS),
        ]

    def run(self):
        from bots.tasks import dispatch_ticks
        from trading.tasks import sync_open_orders

        next_orders = 0.0
        jobs = {task.name: (task, every) for task, every in self.periodic()}
        next_run = {}
        while not self.stopped.is_set():
            started = time.monotonic()
            try:
                dispatch_ticks()
                if started >= next_orders:
                    sync_open_orders()
                    next_orders = started + self.orders_every
            except Exception:
                logger.exception("embedded scheduler round failed")
            finally:
                close_old_connections()
            for name, (fn, every) in list({**jobs, **_periodic}.items()):
                if started < next_run.get(name, 0.0):
                    continue
                next_run[name] = started + (every or 0.0)
                try:
                    fn()
                except Exception:
                    logger.exception("embedded periodic job %s failed", name)
                finally:
                    close_old_connections()
            self.stopped.wait(max(self.tick_every - (time.monotonic() - started), 0.1))

    def stop(self):
        self.stopped.set()
