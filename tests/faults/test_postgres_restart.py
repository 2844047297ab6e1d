"""PostgreSQL restarts: requests to a running server fail cleanly (503 in the error schema) while it is down, then
succeed again without restarting the server. Needs PostgreSQL on this machine managed by pg_ctlcluster, as root (CI runs
it)."""

import os
import shutil
import subprocess
import time

import httpx
import pytest
from django.db import connection

from tests.servers import daphne

pytestmark = pytest.mark.slow


def _cluster():
    if connection.vendor != "postgresql" or not shutil.which("pg_lsclusters") or os.geteuid() != 0:
        return None
    port = str(connection.settings_dict.get("PORT") or 5432)
    for line in subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout.splitlines():
        version, name, cluster_port, status = line.split()[:4]
        if cluster_port == port and status == "online":
            return version, name
    return None


@pytest.mark.django_db(transaction=True)
def test_requests_fail_cleanly_then_recover():
    cluster = _cluster()
    if cluster is None:
        pytest.skip("needs a local PostgreSQL cluster managed by pg_ctlcluster (root)")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    connection.close()
    with daphne({"DATABASE_URL": url}, migrate=False) as base:
        registered = httpx.post(
            f"{base}/api/auth/register",
            json={"email": "pgfault@example.com", "password": "Str0ng-Passphrase!", "first_name": "P"},
            timeout=10,
        )
        assert registered.status_code == 200, registered.text
        headers = {"Authorization": "Bearer " + registered.json()["token"]}
        assert httpx.get(f"{base}/api/auth/me", headers=headers, timeout=10).status_code == 200

        subprocess.run(["pg_ctlcluster", *cluster, "stop", "-m", "fast"], check=True)
        try:
            down = httpx.get(f"{base}/api/trades", headers=headers, timeout=10)
            assert down.status_code == 503, down.text
            body = down.json()
            assert body["success"] is False and body["error_code"] == "SERVICE_UNAVAILABLE"
            assert "Traceback" not in down.text
            assert httpx.get(f"{base}/api/health", timeout=10).json()["status"] == "degraded"
        finally:
            subprocess.run(["pg_ctlcluster", *cluster, "start"], check=True)

        deadline = time.time() + 30
        while True:
            up = httpx.get(f"{base}/api/trades", headers=headers, timeout=10)
            if up.status_code == 200 or time.time() > deadline:
                break
            time.sleep(0.5)
        assert up.status_code == 200 and up.json() == {"success": True, "trades": [], "total": 0, "next_cursor": None}
        assert (
            httpx.get(f"{base}/api/auth/me", headers=headers, timeout=10).json()["user"]["email"]
            == "pgfault@example.com"
        )
