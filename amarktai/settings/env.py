"""Reading the environment. Every environment variable the settings read goes through ``env()``, which records it in
``DECLARED`` (name -> default) so a test can hold the README's table against what the code reads."""

import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("AMARKTAI_VAR_DIR", BASE_DIR / "var"))

DECLARED: dict[str, str] = {"AMARKTAI_VAR_DIR": "var/ beside manage.py"}


def env(name: str, default: str = "") -> str:
    """The variable's value, or ``default`` when it is unset or empty."""
    DECLARED.setdefault(name, default)
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name, "1" if default else "0")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_float(name: str, default: float) -> float:
    return float(env(name, str(default)))


def env_list(name: str, default: list[str]) -> list[str]:
    value = env(name, ",".join(default))
    return [item.strip() for item in value.split(",") if item.strip()]


def local_secret(filename: str, factory) -> str:
    """Read a secret kept in var/, creating it (mode 0600) on first use.

    Several processes may start at once (gunicorn workers, a test's servers): the secret is written whole to a
    private temporary file and then hard-linked into place, which either wins or finds the other process's file,
    so no process ever reads a half-written or different secret."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / filename
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=VAR_DIR, prefix=f".{filename}.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(factory())
            os.chmod(temporary, 0o600)
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def random_secret_key() -> str:
    return secrets.token_urlsafe(64)


def random_fernet_key() -> str:
    return Fernet.generate_key().decode()
