"""wallets' check for ``manage.py doctor`` (realtime.doctor): do the configured FIELD_ENCRYPTION_KEYS open the stored
exchange credentials? One stored secret is decrypted through wallets.crypto (and never shown); the most recently
updated credentials, up to SCAN_LIMIT, are then tried with the newest key alone to count those still under an older key
(``manage.py rotate_field_keys`` re-encrypts them) and those no configured key opens."""

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from realtime.doctor import FAIL, OK, SKIP, WARN, Result
from wallets.crypto import DecryptionFailed, decrypt, fernet
from wallets.models import ExchangeCredential

SCAN_LIMIT = 10_000


def check_encryption() -> Result:
    sample = ExchangeCredential.objects.order_by("-updated_at").first()
    if sample is None:
        return Result("encryption", SKIP, "no stored exchange credential to decrypt")
    try:
        decrypt(sample.api_secret_enc)  # the plaintext is dropped at once
    except DecryptionFailed:
        return Result(
            "encryption",
            FAIL,
            f"credential {sample.pk} cannot be decrypted with the configured FIELD_ENCRYPTION_KEY(s)",
        )
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    newest = Fernet(keys[0].encode() if isinstance(keys[0], str) else keys[0])
    every = fernet()
    total = ExchangeCredential.objects.count()
    scanned = old = broken = 0
    tokens = ExchangeCredential.objects.order_by("-updated_at").values_list("api_secret_enc", flat=True)
    for token in tokens[:SCAN_LIMIT].iterator():
        scanned += 1
        if not token:
            continue
        data = token.encode()
        try:
            newest.decrypt(data)
            continue
        except InvalidToken:
            pass
        try:
            every.decrypt(data)
            old += 1
        except InvalidToken:
            broken += 1
    checked = f"{scanned} of {total}" if scanned < total else f"{total}"
    if broken:
        return Result("encryption", FAIL, f"{broken} of {checked} credential(s) open with no configured key")
    if old:
        return Result(
            "encryption", WARN, f"{old} of {checked} credential(s) under an older key: run manage.py rotate_field_keys"
        )
    return Result("encryption", OK, f"{checked} credential(s) decrypt with the newest key")
