"""Print a fresh SECRET_KEY and FIELD_ENCRYPTION_KEY as ``NAME=value`` lines for an EnvironmentFile.

    manage.py generate_keys >> /etc/amarktai/amarktai.env      (then chmod 0640, owner root:amarktai)

The keys go to standard output only: nothing is logged or written anywhere else. Run it once per installation; a new
SECRET_KEY signs everybody out, and a FIELD_ENCRYPTION_KEY must never be dropped while secrets encrypted with it remain
(rotation: ``--field-key`` prints a new key alone, to put in front of the current ones; then run rotate_field_keys).
"""

import secrets

from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print a new SECRET_KEY and FIELD_ENCRYPTION_KEY (NAME=value lines for an EnvironmentFile)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--field-key",
            action="store_true",
            help="print only a new Fernet key (for rotation: FIELD_ENCRYPTION_KEY=<new>,<current keys>)",
        )

    def handle(self, *args, **options):
        field_key = Fernet.generate_key().decode()
        if options["field_key"]:
            self.stdout.write(field_key)
            return
        # token_urlsafe: letters, digits, - and _ only, so the line needs no quoting in a shell, an EnvironmentFile
        # or a compose .env file.
        self.stdout.write(f"SECRET_KEY={secrets.token_urlsafe(64)}")
        self.stdout.write(f"FIELD_ENCRYPTION_KEY={field_key}")
