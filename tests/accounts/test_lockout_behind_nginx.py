"""The lockout behind the README's deployment: nginx with the repository's nginx.conf in front of gunicorn, production
settings, TRUSTED_PROXIES at its default. Every connection reaches gunicorn from 127.0.0.1, so the lockout must key on
the client address nginx forwards: an attacker's failures lock out the attacker's address, never the owner's.

Linux routes all of 127.0.0.0/8 to loopback: a client socket bound to 127.0.0.x gives each client its own address."""

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests import servers
from tests.system.test_proxy_clients import _account, _require_nginx

pytestmark = pytest.mark.slow

PASSWORD = "S3cure-pass-123"
ATTACKER, OWNER = "127.0.0.5", "127.0.0.6"


def _client(base, local_address, tls):
    return httpx.Client(
        base_url=base, transport=httpx.HTTPTransport(local_address=local_address, verify=tls), timeout=30
    )


def _login(client, password):
    return client.post("/api/auth/login", json={"email": "owner@example.com", "password": password})


@pytest.mark.django_db(transaction=True)  # the server process must see the account this test creates
def test_an_attacker_behind_nginx_locks_out_only_itself(make_user):
    _require_nginx()
    _account(make_user, "owner@example.com")
    env = {
        "DATABASE_URL": servers.database_url(connection),
        "TRUSTED_PROXIES": None,
        "THROTTLE_AUTH_IP": None,
        "THROTTLE_AUTH_ACCOUNT": None,
        "LOGIN_LOCKOUT_THRESHOLD": None,
        "LOGIN_LOCKOUT_ACCOUNT_CEILING": None,
        "ALLOWED_HOSTS": None,
    }
    workers = 2 if settings.REDIS_URL else 1
    with servers.gunicorn(env, workers=workers) as app, servers.nginx(int(app.rsplit(":", 1)[1])) as (proxy, workdir):
        tls = servers.tls_context(workdir)
        with _client(proxy, ATTACKER, tls) as attacker, _client(proxy, OWNER, tls) as owner:
            # The attacker forges X-Forwarded-For to pass as the owner; nginx appends the address it really saw.
            forged = {"X-Forwarded-For": OWNER}
            guesses = [
                attacker.post(
                    "/api/auth/login", json={"email": "owner@example.com", "password": "guess"}, headers=forged
                )
                for _ in range(6)
            ]
            assert [r.status_code for r in guesses] == [401] * 5 + [429], [r.text for r in guesses]
            locked = _login(attacker, PASSWORD)
            assert locked.status_code == 429 and locked.json()["error_code"] == "RATE_LIMIT", locked.text
            # The owner, from their own address, at once.
            ok = _login(owner, PASSWORD)
            assert ok.status_code == 200, ok.text
            assert ok.json()["user"]["email"] == "owner@example.com"
