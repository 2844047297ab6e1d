"""Processes that start at once (gunicorn workers, the test servers) share one generated secret: none of them fails
on the file another is creating, and all of them read the same whole value."""

import subprocess
import sys
import time

from amarktai.settings.env import BASE_DIR

# Every process imports first, then waits for the start file, so all of them reach local_secret() together.
READ_SECRET = """
import os, sys, time
from amarktai.settings.env import local_secret, random_secret_key
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
print(local_secret("shared_secret", random_secret_key))
"""


def test_processes_starting_together_read_one_secret(tmp_path, tmp_path_factory):
    start = tmp_path_factory.mktemp("start") / "go"
    environment = {"AMARKTAI_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", READ_SECRET, str(start)],
            cwd=BASE_DIR,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(12)
    ]
    time.sleep(1.5)
    start.touch()
    results = [process.communicate(timeout=60) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in results]
    secrets = {out.strip() for out, _ in results}
    assert len(secrets) == 1
    (secret,) = secrets
    assert len(secret) > 60
    assert (tmp_path / "shared_secret").read_text().strip() == secret
    assert (tmp_path / "shared_secret").stat().st_mode & 0o777 == 0o600
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".")], "temporary files left"
