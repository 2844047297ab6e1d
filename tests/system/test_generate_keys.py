"""`manage.py generate_keys`: fresh SECRET_KEY and FIELD_ENCRYPTION_KEY lines that work as an EnvironmentFile."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(SECRET_KEY|FIELD_ENCRYPTION_KEY)=([A-Za-z0-9_\-=]+)$")


def generate(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("generate_keys", *args, stdout=out, stderr=err)
    assert err.getvalue() == ""
    return out.getvalue()


def parse(output):
    lines = output.splitlines()
    assert len(lines) == 2, output
    values = {}
    for line in lines:
        match = LINE.match(line)
        assert match, f"not a NAME=value line that needs no quoting: {line!r}"
        values[match[1]] = match[2]
    return values


def test_prints_two_new_keys_that_need_no_quoting():
    first, second = parse(generate()), parse(generate())
    assert set(first) == {"SECRET_KEY", "FIELD_ENCRYPTION_KEY"}
    assert len(first["SECRET_KEY"]) >= 50  # Django's check --deploy wants at least 50 characters
    assert len(set(first["SECRET_KEY"])) >= 5
    fernet = Fernet(first["FIELD_ENCRYPTION_KEY"].encode())
    assert fernet.decrypt(fernet.encrypt(b"x")) == b"x"
    assert first["SECRET_KEY"] != second["SECRET_KEY"]
    assert first["FIELD_ENCRYPTION_KEY"] != second["FIELD_ENCRYPTION_KEY"]


def test_field_key_alone_for_rotation():
    key = generate("--field-key").strip()
    Fernet(key.encode())


def test_the_output_is_an_environment_file_the_settings_read(tmp_path):
    """Generated in one process, loaded as the environment of another: the settings use exactly those keys."""
    env = {**os.environ, "AMARKTAI_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "amarktai.settings"}
    env.pop("SECRET_KEY", None)
    env.pop("FIELD_ENCRYPTION_KEY", None)
    run = subprocess.run(
        [sys.executable, "manage.py", "generate_keys"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    keys = parse(run.stdout)
    env_file = tmp_path / "amarktai.env"
    env_file.write_text(run.stdout)
    # What systemd's EnvironmentFile= (and compose's env_file) does with such a file: NAME=value per line.
    loaded = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.SECRET_KEY); print(','.join(settings.FIELD_ENCRYPTION_KEYS))",
        ],
        cwd=ROOT,
        env={**env, **loaded},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines() == [keys["SECRET_KEY"], keys["FIELD_ENCRYPTION_KEY"]]
