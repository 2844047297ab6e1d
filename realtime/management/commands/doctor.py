"""Check a deployment from the inside (realtime.doctor): settings, database and migrations, cache, channel layer,
clock skew, static manifest, Celery workers and beat, the encryption keys against a stored secret. Prints a table (or
JSON with --json) and exits 1 when any check fails; warnings alone exit 0."""

from django.core.management.base import BaseCommand, CommandError

from realtime import doctor


class Command(BaseCommand):
    help = "Check this deployment: prints check | status | detail and exits 1 if any check fails."
    requires_system_checks: list[str] = []  # the doctor reports system checks itself, never refuses to start

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON for machines instead of the table")
        parser.add_argument(
            "--check",
            action="append",
            dest="only",
            metavar="NAME",
            help=f"run only this check (repeatable): {', '.join(doctor.registered())}",
        )

    def handle(self, *args, json=False, only=None, **options):
        unknown = sorted(set(only or ()) - set(doctor.registered()))
        if unknown:
            raise CommandError(f"unknown check(s) {unknown}; known: {doctor.registered()}")
        results = doctor.run(only)
        self.stdout.write(doctor.as_json(results) if json else doctor.as_table(results))
        if any(r.status == doctor.FAIL for r in results):
            raise SystemExit(1)
