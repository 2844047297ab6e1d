"""The production settings for a server process of a test that sends many logins (each failed login hashes a password
once, even for an unknown email): the same PBKDF2 hasher with few iterations, everything else unchanged."""

from django.conf import global_settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from amarktai.settings import *  # noqa: F403


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1000


PASSWORD_HASHERS = ["tests.system.quick_hash_settings.QuickPBKDF2PasswordHasher", *global_settings.PASSWORD_HASHERS]
