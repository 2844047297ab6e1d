"""``manage.py doctor`` (realtime.doctor, with bots' beat check and wallets' encryption check): all clear on a healthy
test deployment, and exit 1 with a clear row for each kind of real problem: a key that cannot decrypt a stored secret,
an unapplied migration, clock skew, a missing static manifest, a stale beat heartbeat. The whole-stack test
(tests/system/test_stack.py) runs it against real PostgreSQL, Redis, worker and beat processes."""

import io
import json
import re
import time

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from bots.tasks import HEARTBEAT_KEY
from realtime import doctor
from wallets.models import ExchangeCredential

SECRET = "doctor-test-secret-9f3a"
# The deploy settings test settings relax (amarktai/settings_test.py), restored so `check --deploy` is clean.
DEPLOY = {"SECURE_SSL_REDIRECT": True, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "DEBUG": False}


def run_doctor(*args):
    """(exit code, output) of ``manage.py doctor *args``."""
    out = io.StringIO()
    try:
        call_command("doctor", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def rows(*args):
    code, output = run_doctor("--json", *args)
    body = json.loads(output)
    assert body["ok"] is (code == 0), output
    return code, {row["check"]: row for row in body["checks"]}


def credential(user, secret=SECRET):
    cred = ExchangeCredential(user=user, platform="luno", label="main")
    cred.api_key = "key-1234"
    cred.api_secret = secret
    cred.save()
    return cred


@pytest.fixture
def embedded_db():
    """On SQLite there is no clock of the database's own: stand one in, so the clock check runs everywhere."""
    if connection.vendor == "sqlite":
        return lambda: time.time()
    return None


@pytest.mark.django_db
@override_settings(**DEPLOY, CELERY_TASK_ALWAYS_EAGER=True)
def test_healthy_deployment_passes_with_a_table(user):
    credential(user)
    code, output = run_doctor()
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split() == ["check", "status", "detail"]
    for name in ("database", "migrations", "cache", "channel layer", "celery workers", "celery beat", "encryption"):
        assert any(line.startswith(name + " ") for line in lines), f"no {name!r} row:\n{output}"
    assert SECRET not in output

    code, checks = rows()
    assert code == 0
    statuses = {name: row["status"] for name, row in checks.items()}
    assert statuses["migrations"] == statuses["database"] == statuses["encryption"] == "ok", statuses
    assert statuses["celery workers"] == "ok" and "embedded" in checks["celery workers"]["detail"]
    assert statuses["celery beat"] == "skip"
    assert "fail" not in statuses.values(), checks
    if not doctor.production():  # the embedded default: nothing to warn about either
        assert set(statuses.values()) <= {"ok", "skip"}, checks


@pytest.mark.django_db
def test_wrong_encryption_key_fails_without_showing_the_secret(user):
    cred = credential(user)
    with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        code, output = run_doctor("--check", "encryption")
    assert code == 1, output
    assert "encryption" in output and "fail" in output and str(cred.pk) in output
    assert SECRET not in output and cred.api_secret_enc not in output


@pytest.mark.django_db
def test_old_key_still_listed_warns_until_rotated(user):
    credential(user)
    new = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new, *settings.FIELD_ENCRYPTION_KEYS]):
        code, checks = rows("--check", "encryption")
        assert code == 0 and checks["encryption"]["status"] == "warn", checks
        assert "1 of 1" in checks["encryption"]["detail"] and "rotate_field_keys" in checks["encryption"]["detail"]
        call_command("rotate_field_keys", stdout=io.StringIO())
        code, checks = rows("--check", "encryption")
    assert code == 0 and checks["encryption"]["status"] == "ok", checks


@pytest.mark.django_db
def test_invalid_fernet_key_in_settings_fails():
    with override_settings(FIELD_ENCRYPTION_KEYS=["not-a-fernet-key"]):
        code, checks = rows("--check", "settings")
    assert code == 1 and checks["settings.encryption_keys"]["status"] == "fail", checks


@pytest.mark.django_db
def test_unapplied_migration_fails():
    recorder = MigrationRecorder(connection)
    last = recorder.migration_qs.filter(app="bots").order_by("-id").first()
    assert last is not None
    last.delete()  # as if this release's migration had not run (the test's transaction is rolled back)
    code, checks = rows("--check", "database", "--check", "migrations")
    assert code == 1 and checks["migrations"]["status"] == "fail", checks
    assert f"bots.{last.name}" in checks["migrations"]["detail"] and "migrate" in checks["migrations"]["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(("offset", "status", "code"), [(0, "ok", 0), (5, "warn", 0), (60, "fail", 1)])
def test_clock_skew(monkeypatch, embedded_db, offset, status, code):
    if embedded_db is not None:
        monkeypatch.setattr(doctor, "_database_time", embedded_db)
    monkeypatch.setattr(doctor, "_now", lambda: time.time() - offset)  # this host runs `offset` seconds behind
    got, checks = rows("--check", "database", "--check", "clock")
    assert got == code and checks["clock"]["status"] == status, checks


@pytest.mark.django_db
def test_static_manifest(tmp_path):
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, STATIC_ROOT=str(tmp_path), DEBUG=False):
        code, checks = rows("--check", "static manifest")
        assert code == 1 and checks["static manifest"]["status"] == "fail", checks
        assert "collectstatic" in checks["static manifest"]["detail"]

        (tmp_path / "app.1234abcd.js").write_text("//")
        manifest = {"paths": {"app.js": "app.1234abcd.js", "gone.css": "gone.5678.css"}, "version": "1.1"}
        (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
        code, checks = rows("--check", "static manifest")
        assert code == 1 and "1 of 2 hashed files missing" in checks["static manifest"]["detail"], checks

        (tmp_path / "gone.5678.css").write_text("")
        code, checks = rows("--check", "static manifest")
        assert code == 0 and checks["static manifest"]["status"] == "ok", checks

    with override_settings(STORAGES={**settings.STORAGES}, STATIC_ROOT=str(tmp_path)):
        if "Manifest" not in settings.STORAGES["staticfiles"]["BACKEND"]:
            code, checks = rows("--check", "static manifest")
            assert code == 0 and checks["static manifest"]["status"] == "skip", checks


@pytest.mark.django_db
def test_beat_heartbeat_with_a_broker(monkeypatch):
    monkeypatch.setattr(doctor, "_ping_workers", lambda timeout: ["celery@worker-1"])
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False, BOT_TICK_SECONDS=10):
        code, checks = rows("--check", "cache", "--check", "celery workers", "--check", "celery beat")
        assert code == 1 and checks["celery beat"]["status"] == "fail", checks  # beat never ran
        assert checks["celery workers"]["status"] == "ok", checks

        cache.set(HEARTBEAT_KEY, time.time() - 120, None)  # beat stopped two minutes ago
        code, checks = rows("--check", "celery beat")
        assert code == 1 and checks["celery beat"]["status"] == "fail", checks
        assert re.search(r"last dispatcher round 12\ds ago", checks["celery beat"]["detail"]), checks

        from bots.tasks import dispatch_ticks

        dispatch_ticks()  # a dispatcher round leaves a fresh heartbeat
        code, checks = rows("--check", "celery beat")
        assert code == 0 and checks["celery beat"]["status"] == "ok", checks


@pytest.mark.django_db
def test_no_worker_answering_fails(monkeypatch):
    monkeypatch.setattr(doctor, "_ping_workers", lambda timeout: [])
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        code, checks = rows("--check", "celery workers")
    assert code == 1 and checks["celery workers"]["status"] == "fail", checks


@pytest.mark.django_db
@override_settings(DEBUG=True, REDIS_URL="redis://127.0.0.1:1/0")
def test_debug_in_production_fails():
    code, checks = rows("--check", "settings")
    assert code == 1 and checks["settings.debug"]["status"] == "fail", checks


def test_a_crashing_check_is_a_failed_row(monkeypatch):
    monkeypatch.setitem(doctor._registry, "boom", doctor._Entry("boom", lambda: 1 / 0, ()))
    code, checks = rows("--check", "boom")
    assert code == 1 and checks["boom"] == {
        "check": "boom",
        "status": "fail",
        "detail": "ZeroDivisionError: division by zero",
    }
