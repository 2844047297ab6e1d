"""Re-encrypt every stored secret with the newest FIELD_ENCRYPTION_KEY (the first listed).

Rotation: FIELD_ENCRYPTION_KEY="<new>,<old>" -> run this command -> drop <old>.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from wallets.crypto import rotate, rotations
from wallets.models import ExchangeCredential

FIELDS = ("api_key_enc", "api_secret_enc", "passphrase_enc", "extras_enc", "session_enc")


class Command(BaseCommand):
    help = "Re-encrypt stored exchange keys (and other apps' secrets) with the newest FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        count = 0
        ids = list(ExchangeCredential.objects.values_list("pk", flat=True))
        for pk in ids:
            with transaction.atomic():
                cred = ExchangeCredential.objects.select_for_update().filter(pk=pk).first()
                if cred is None:
                    continue
                for field in FIELDS:
                    setattr(cred, field, rotate(getattr(cred, field)))
                cred.save(update_fields=list(FIELDS))
                count += 1
        self.stdout.write(f"Re-encrypted {count} credential(s) with the newest key.")
        for label, fn in rotations().items():
            self.stdout.write(f"Re-encrypted {fn()} {label}(s) with the newest key.")
