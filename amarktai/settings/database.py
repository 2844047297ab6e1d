"""The database: ``DATABASE_URL`` (PostgreSQL in production), else a SQLite file in var/."""

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from amarktai.settings.env import VAR_DIR, env, env_int

__all__ = ["DATABASES"]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", "") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (web + in-process scheduler) share one SQLite file: wait for locks instead of failing.
    # Write-ahead log: readers never block the writer (and the reverse), and a commit appends to the log instead of
    # rewriting a rollback journal. With synchronous=NORMAL (SQLite's advice for WAL) a commit is safe against the
    # process dying at any moment; only a power cut or OS crash can lose the last commits (never corrupt the file).
    # SQLITE_SYNCHRONOUS=FULL syncs every commit to disk as well (about 10x slower per commit here: see
    # bench/bench_paper_orders.py).
    _synchronous = env("SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if _synchronous not in ("NORMAL", "FULL"):
        raise ImproperlyConfigured(f"SQLITE_SYNCHRONOUS must be NORMAL or FULL, not {_synchronous!r}")
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={_synchronous}",
        }
    )
