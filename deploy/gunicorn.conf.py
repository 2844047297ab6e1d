"""gunicorn's configuration for the JSON API, admin and portal pages (README "Production", docs/operations.md):

    gunicorn -c deploy/gunicorn.conf.py amarktai.wsgi:application

Command-line options override these values (``-w 8``, ``-b 127.0.0.1:8102``).

- bind: 127.0.0.1:8101, the port nginx.conf's ``upstream api`` proxies to; keep it on loopback (TRUSTED_PROXIES).
- workers: 4 (about two per core).
- metrics: with PROMETHEUS_MULTIPROC_DIR set (in the environment, before start), every worker writes its metrics to
  that directory and /metrics aggregates every process of the host; when a worker exits, ``child_exit`` drops its live
  gauges.
  The directory must be emptied before the services of the host start (docs/operations.md, "Metrics"), never by
  gunicorn itself: Daphne and the Celery workers share it.
- control socket (``gunicornc``): in the var directory (AMARKTAI_VAR_DIR, default var/ beside manage.py), owner-only,
  rather than gunicorn's default of $XDG_RUNTIME_DIR or $HOME/.gunicorn (root's home under systemd).
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from amarktai.settings.env import VAR_DIR  # noqa: E402

bind = "127.0.0.1:8101"
workers = 4
control_socket = str((VAR_DIR / "gunicorn.ctl").resolve())
control_socket_mode = 0o600


def on_starting(server):
    VAR_DIR.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    """A worker exited (stopped, restarted, or killed): its open-connection gauges no longer count."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, path)
