"""Field encryption for stored exchange keys: Fernet (AES-128-CBC + HMAC-SHA256) through MultiFernet.

settings.FIELD_ENCRYPTION_KEYS lists the keys newest first (env FIELD_ENCRYPTION_KEY, comma separated). New values are
encrypted with the first key; any listed key decrypts. To rotate: put a new key first, keep the old ones, run
``python manage.py rotate_field_keys`` (re-encrypts every stored value with the newest key), then drop the old keys.

Apps above wallets that store values with ``encrypt`` register a function with ``register_rotation(label, fn)``;
``rotate_field_keys`` calls it (``fn()`` re-encrypts that app's values with ``rotate`` and returns how many rows).
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

_rotations = {}


def register_rotation(label, fn):
    """``fn()`` re-encrypts the stored values of one kind (``label``, e.g. "webhook secret") with the newest key and
    returns how many rows it rewrote; ``rotate_field_keys`` runs every registered one."""
    _rotations[label] = fn


def rotations():
    return dict(_rotations)


class DecryptionFailed(Exception):
    """A stored value could not be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _multifernet(keys):
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def fernet():
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext):
    """str -> token (str). Empty stays empty (nothing secret to hide)."""
    if not plaintext:
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token):
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("stored value cannot be decrypted with the configured FIELD_ENCRYPTION_KEY(s)") from exc


def rotate(token):
    """Re-encrypt a token with the newest key (MultiFernet.rotate)."""
    if not token:
        return ""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("stored value cannot be decrypted with the configured FIELD_ENCRYPTION_KEY(s)") from exc
