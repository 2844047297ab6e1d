"""``manage.py doctor``: a deployment checked from the inside.

A registry of checks. This module holds the platform-wide ones (settings, ``check --deploy``, database, migrations,
cache, channel layer, clock skew, static manifest, Celery workers); domain apps register their own from their
AppConfig.ready() with ``register()`` (bots: the beat heartbeat; wallets: the encryption keys against a stored secret),
so this module imports no domain model.

A check takes no arguments and returns one ``Result`` or a list of them. Status is one of ok, warn, fail, skip; the
command exits 1 when any is fail. A check that raises is reported as fail. A check may name the checks it ``needs``:
when one of those failed it is skipped rather than run against a broken dependency.
"""

import ipaddress
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks as django_checks
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.module_loading import import_string

from realtime import health

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
STATUSES = (OK, WARN, FAIL, SKIP)
# Clock skew against the database and Redis: a warning above the first, a failure above the second (seconds).
SKEW_WARN_SECONDS = 2.0
SKEW_FAIL_SECONDS = 30.0
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


@dataclass
class Result:
    check: str
    status: str
    detail: str = ""


Check = Callable[[], "Result | list[Result]"]


@dataclass
class _Entry:
    name: str
    func: Check
    needs: tuple[str, ...]


_registry: dict[str, _Entry] = {}


def register(name: str, func: Check, needs: Iterable[str] = ()) -> None:
    """Add (or replace) a check. ``needs``: names of checks that must not have failed for this one to run."""
    _registry[name] = _Entry(name, func, tuple(needs))


def registered() -> list[str]:
    return list(_registry)


def run(only: Iterable[str] | None = None) -> list[Result]:
    """Run every registered check in registration order (or only the named ones) and return their rows."""
    wanted = set(only) if only else None
    results: list[Result] = []
    failed: set[str] = set()
    for entry in list(_registry.values()):
        if wanted is not None and entry.name not in wanted:
            continue
        blocked = [need for need in entry.needs if need in failed]
        if blocked:
            rows = [Result(entry.name, SKIP, f"{', '.join(blocked)} failed")]
        else:
            try:
                out = entry.func()
                rows = [out] if isinstance(out, Result) else list(out)
            except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check, not a crashed doctor
                rows = [Result(entry.name, FAIL, f"{exc.__class__.__name__}: {exc}")]
        for row in rows:
            if row.status not in STATUSES:
                raise ValueError(f"check {row.check!r} returned status {row.status!r}")
            if row.status == FAIL:
                failed.add(entry.name)
                failed.add(row.check)
        results.extend(rows)
    return results


def as_json(results: list[Result]) -> str:
    return json.dumps(
        {"ok": not any(r.status == FAIL for r in results), "checks": [asdict(r) for r in results]}, indent=2
    )


def as_table(results: list[Result]) -> str:
    header = ("check", "status", "detail")
    rows = [header] + [(r.check, r.status, r.detail) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = []
    for index, (name, status, detail) in enumerate(rows):
        lines.append(f"{name.ljust(widths[0])}  {status.ljust(widths[1])}  {detail}".rstrip())
        if index == 0:
            lines.append(f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * 6}")
    counts = {status: sum(r.status == status for r in results) for status in STATUSES}
    lines.append("")
    lines.append(", ".join(f"{counts[s]} {s}" for s in STATUSES))
    return "\n".join(lines)


def production() -> bool:
    """Production as the settings choose it: Redis or a database other than the embedded SQLite file."""
    return bool(settings.REDIS_URL) or connections[DEFAULT_DB_ALIAS].vendor != "sqlite"


def _local_secret(filename: str) -> str | None:
    """The secret amarktai.settings.env.local_secret generated in var/, if there is one."""
    path = Path(settings.VAR_DIR) / filename
    try:
        return path.read_text().strip()
    except OSError:
        return None


# --- settings ------------------------------------------------------------------------------------------------------


def check_settings() -> list[Result]:
    prod = production()
    mode = "production (DATABASE_URL/REDIS_URL set)" if prod else "embedded (SQLite, no Redis)"
    rows = [Result("settings.mode", OK, mode)]

    if settings.DEBUG:
        rows.append(Result("settings.debug", FAIL if prod else WARN, "DEBUG is on: set DEBUG=0"))
    else:
        rows.append(Result("settings.debug", OK, "DEBUG off"))

    if settings.SECRET_KEY == _local_secret("secret_key"):
        status = WARN if prod else OK
        rows.append(Result("settings.secret_key", status, "generated in var/secret_key; set SECRET_KEY in production"))
    elif len(settings.SECRET_KEY) < 50:
        rows.append(Result("settings.secret_key", WARN, f"only {len(settings.SECRET_KEY)} characters; use 50 or more"))
    else:
        rows.append(Result("settings.secret_key", OK, "set"))

    hosts = list(settings.ALLOWED_HOSTS)
    if "*" in hosts:
        rows.append(Result("settings.allowed_hosts", WARN if prod else OK, "'*' accepts any Host header"))
    elif prod and set(hosts) <= LOCAL_HOSTS:
        rows.append(Result("settings.allowed_hosts", WARN, f"only local hosts {hosts}: set ALLOWED_HOSTS"))
    else:
        rows.append(Result("settings.allowed_hosts", OK, ", ".join(hosts)))

    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    bad = []
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key.encode() if isinstance(key, str) else key)
        except Exception:  # noqa: BLE001 - ValueError/TypeError/binascii: not a Fernet key
            bad.append(position)
    if not keys:
        rows.append(Result("settings.encryption_keys", FAIL, "FIELD_ENCRYPTION_KEY lists no key"))
    elif bad:
        rows.append(Result("settings.encryption_keys", FAIL, f"key(s) {bad} of {len(keys)} are not valid Fernet keys"))
    elif prod and keys == [_local_secret("field_key")]:
        detail = "generated in var/field_key; set FIELD_ENCRYPTION_KEY (kept in a secret store)"
        rows.append(Result("settings.encryption_keys", WARN, detail))
    else:
        rows.append(Result("settings.encryption_keys", OK, f"{len(keys)} valid Fernet key(s)"))

    bad_proxies = []
    for proxy in settings.TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            bad_proxies.append(proxy)
    if bad_proxies:
        rows.append(Result("settings.trusted_proxies", FAIL, f"not addresses or networks: {bad_proxies}"))
    else:
        rows.append(Result("settings.trusted_proxies", OK, ", ".join(settings.TRUSTED_PROXIES) or "none"))

    if prod and not settings.REDIS_URL:
        detail = "unset: tasks run in the web process and events stay in one process; set REDIS_URL"
        rows.append(Result("settings.redis_url", WARN, detail))
    else:
        rows.append(Result("settings.redis_url", OK, "set" if settings.REDIS_URL else "unset (embedded)"))
    return rows


def check_deploy() -> Result:
    """What ``manage.py check --deploy`` reports, summarised: errors fail, warnings warn."""
    messages = [m for m in django_checks.run_checks(include_deployment_checks=True) if not m.is_silenced()]
    errors = sorted({m.id or "?" for m in messages if m.level >= django_checks.ERROR})
    warnings = sorted({m.id or "?" for m in messages if django_checks.WARNING <= m.level < django_checks.ERROR})
    if errors:
        return Result("check --deploy", FAIL, f"errors {', '.join(errors)}; warnings {', '.join(warnings) or 'none'}")
    if warnings:
        return Result("check --deploy", WARN, f"warnings {', '.join(warnings)} (run manage.py check --deploy)")
    return Result("check --deploy", OK, "no issues")


# --- database, cache, channel layer --------------------------------------------------------------------------------


def _detail(info: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in info.items() if v not in (None, "", []))


def check_database() -> Result:
    ok, info = health.check_database(timeout=5.0)
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if not ok:  # the probe reads the user table: a new, unmigrated database fails here too
        return Result("database", FAIL, f"{vendor}, {_detail(info)} reading the user table (migrated? reachable?)")
    return Result("database", OK, f"{vendor}, {_detail(info)}")


def check_migrations() -> Result:
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = [f"{migration.app_label}.{migration.name}" for migration, backwards in plan if not backwards]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return Result("migrations", FAIL, f"{len(plan)} unapplied: {shown}; run manage.py migrate")
    return Result("migrations", OK, "all applied")


def check_cache() -> Result:
    ok, info = health.check_cache()
    return Result("cache", OK if ok else FAIL, _detail(info))


def check_channel_layer() -> Result:
    ok, info = health.check_channel_layer(timeout=3.0)
    return Result("channel layer", OK if ok else FAIL, _detail(info) or "round trip failed")


# --- clock ---------------------------------------------------------------------------------------------------------


def _now() -> float:
    """This host's clock (a function of its own so a test can move it)."""
    return time.time()


def _database_time() -> float | None:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return None  # SQLite is a file on this host: it has no clock of its own
    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM clock_timestamp())")  # not now(): that is the transaction's start
        return float(cursor.fetchone()[0])


def _redis_time() -> float | None:
    if not settings.REDIS_URL:
        return None
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        seconds, micros = client.time()
    finally:
        client.close()
    return seconds + micros / 1e6


def _skew(source: Callable[[], float | None]) -> float | None:
    before = _now()
    remote = source()
    after = _now()
    if remote is None:
        return None
    return remote - (before + after) / 2


def check_clock() -> Result:
    skews = {}
    errors = []
    for name, source in (("database", _database_time), ("redis", _redis_time)):
        try:
            value = _skew(source)
        except Exception as exc:  # noqa: BLE001 - reported, the other source may still answer
            errors.append(f"{name}: {exc.__class__.__name__}")
            continue
        if value is not None:
            skews[name] = value
    if not skews and not errors:
        return Result("clock", SKIP, "no remote clock (SQLite on this host, no Redis)")
    worst = max((abs(v) for v in skews.values()), default=0.0)
    detail = ", ".join([f"{name} {value:+.3f}s" for name, value in skews.items()] + errors)
    if worst > SKEW_FAIL_SECONDS:
        return Result("clock", FAIL, f"skew {detail} (fail above {SKEW_FAIL_SECONDS:g}s): run NTP")
    if worst > SKEW_WARN_SECONDS or errors:
        return Result("clock", WARN, f"skew {detail} (warn above {SKEW_WARN_SECONDS:g}s)")
    return Result("clock", OK, f"skew {detail}")


# --- static files --------------------------------------------------------------------------------------------------


def check_static() -> Result:
    from django.contrib.staticfiles.storage import ManifestFilesMixin

    backend = settings.STORAGES["staticfiles"]["BACKEND"]
    storage_class = import_string(backend)
    short = backend.rsplit(".", 1)[-1]
    if not issubclass(storage_class, ManifestFilesMixin):
        return Result("static manifest", SKIP, f"{short} keeps no manifest")
    manifest = Path(settings.STATIC_ROOT) / storage_class.manifest_name
    if not manifest.is_file():
        if settings.DEBUG:  # {% static %} gives plain names, served from the source tree: no manifest needed
            return Result("static manifest", SKIP, f"{manifest} missing, not needed with DEBUG on")
        return Result("static manifest", FAIL, f"{manifest} missing: run manage.py collectstatic --noinput")
    try:
        paths = json.loads(manifest.read_text(encoding="utf-8"))["paths"]
    except (ValueError, KeyError, TypeError) as exc:
        return Result("static manifest", FAIL, f"{manifest} unreadable ({exc.__class__.__name__}): run collectstatic")
    missing = [name for name in paths.values() if not (Path(settings.STATIC_ROOT) / name).is_file()]
    if missing:
        return Result(
            "static manifest", FAIL, f"{len(missing)} of {len(paths)} hashed files missing, e.g. {missing[0]}"
        )
    return Result("static manifest", OK, f"{len(paths)} files in {manifest}")


# --- Celery --------------------------------------------------------------------------------------------------------


def embedded_tasks() -> bool:
    """No broker: Celery tasks run in the calling process and bots.scheduler does beat's work in the web process."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def _ping_workers(timeout: float) -> list[str]:
    from amarktai.celery import app

    return sorted(app.control.inspect(timeout=timeout).ping() or {})


def check_celery_workers() -> Result:
    if embedded_tasks():
        return Result("celery workers", OK, "embedded: tasks run in the calling process")
    try:
        workers = _ping_workers(2.0)
    except Exception as exc:  # noqa: BLE001 - broker down
        return Result("celery workers", FAIL, f"broker unreachable ({exc.__class__.__name__})")
    if not workers:
        return Result("celery workers", FAIL, "no worker answered a ping within 2 s: start celery -A amarktai worker")
    return Result("celery workers", OK, f"{len(workers)} answering: {', '.join(workers)}")


def _register_builtins() -> None:
    register("settings", check_settings)
    register("check --deploy", check_deploy)
    register("database", check_database)
    register("migrations", check_migrations, needs=("database",))
    register("cache", check_cache)
    register("channel layer", check_channel_layer)
    register("clock", check_clock, needs=("database",))
    register("static manifest", check_static)
    register("celery workers", check_celery_workers)


_register_builtins()
