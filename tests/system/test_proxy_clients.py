"""The README's production deployment, for real: nginx running the repository's nginx.conf (TLS with a throwaway
certificate, loopback ports) in front of gunicorn from this venv with the production settings and the test database,
TRUSTED_PROXIES at its default. Behind nginx every TCP connection to gunicorn comes from 127.0.0.1, so the per-IP login
throttle must take the client from X-Forwarded-For, and only from nginx:

- client A (127.0.0.2) fails its logins until the auth_ip throttle stops it; client B (127.0.0.3) logs in at once;
- a client that talks to gunicorn directly (127.0.0.4) cannot escape that throttle with a forged X-Forwarded-For.

Linux routes all of 127.0.0.0/8 to the loopback interface, so binding a client socket to 127.0.0.x gives nginx (and
gunicorn) a distinct peer address per client."""

import os
import shutil

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests import servers
from tests.system.quick_hash_settings import QuickPBKDF2PasswordHasher

pytestmark = pytest.mark.slow

PASSWORD = "S3cure-pass-123"
CLIENT_A, CLIENT_B, DIRECT = "127.0.0.2", "127.0.0.3", "127.0.0.4"
ATTEMPTS = 50


def _require_nginx():
    missing = [
        name for name, found in (("nginx", servers.nginx_binary()), ("openssl", shutil.which("openssl"))) if not found
    ]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not installed (apt-get install nginx-light openssl)"
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        pytest.fail(f"{reason}: CI must run the nginx tests (.ci/run installs nginx-light)", pytrace=False)
    pytest.skip(f"{reason}; CI runs this test")


def _default_rate(scope_env):
    """The per-minute limit a throttle has by default (the server runs with these defaults)."""
    from amarktai.settings.env import DECLARED

    count, period = DECLARED[scope_env].split("/")
    assert period.startswith("m"), DECLARED[scope_env]
    return int(count)


def _account(make_user, email):
    """A user in the test database whose password the server (production PASSWORD_HASHERS) can check: the test settings
    hash with MD5, which the server does not accept."""
    user = make_user(email=email, password=PASSWORD)
    hasher = QuickPBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    return user


def _client(base, local_address, **options):
    transport = httpx.HTTPTransport(local_address=local_address, **options)
    return httpx.Client(base_url=base, transport=transport, timeout=30)


def _login(client, email, password, headers=None):
    return client.post("/api/auth/login", json={"email": email, "password": password}, headers=headers or {})


def _summary(responses):
    return [(r.status_code, r.json().get("error_code")) for r in responses]


@pytest.mark.django_db(transaction=True)  # the server process must see the accounts this test creates
def test_each_client_behind_nginx_has_its_own_login_throttle(make_user):
    _require_nginx()
    limit = _default_rate("THROTTLE_AUTH_IP")
    assert 0 < limit < ATTEMPTS - 5, f"THROTTLE_AUTH_IP's default ({limit}/min) leaves nothing to test"
    _account(make_user, "client-a@example.com")
    _account(make_user, "client-b@example.com")

    env = {
        "DATABASE_URL": servers.database_url(connection),
        # Production settings, but a cheap password hash: every refused login hashes once (about 60 of them here).
        "DJANGO_SETTINGS_MODULE": "tests.system.quick_hash_settings",
        # The documented defaults, whatever this shell exports: the proxy list and the auth throttles.
        "TRUSTED_PROXIES": None,
        "TRUSTED_PROXY_COUNT": None,
        "THROTTLE_AUTH_IP": None,
        "THROTTLE_AUTH_ACCOUNT": None,
        "LOGIN_LOCKOUT_THRESHOLD": None,
        "ALLOWED_HOSTS": None,
    }
    # With REDIS_URL the workers share the throttle counters in Redis, as in production; without it each worker has its
    # own local-memory cache, so one worker keeps the count in one place.
    workers = 2 if settings.REDIS_URL else 1
    with servers.gunicorn(env, workers=workers) as app, servers.nginx(int(app.rsplit(":", 1)[1])) as (proxy, workdir):
        tls = servers.tls_context(workdir)
        with _client(proxy, CLIENT_A, verify=tls) as a, _client(proxy, CLIENT_B, verify=tls) as b:
            # Client A: 50 failed logins, each for another account (so neither the per-account throttle nor the lockout
            # is what stops it), each with a forged X-Forwarded-For ending in client B's address or in the proxy's own.
            forged = [f"198.51.100.{i}, {CLIENT_B if i % 2 else '127.0.0.1'}" for i in range(ATTEMPTS)]
            attempts = [
                _login(a, f"victim{i}@example.com", "wrong-password", {"X-Forwarded-For": forged[i]})
                for i in range(ATTEMPTS)
            ]
            got = _summary(attempts)
            assert got == [(401, "AUTH_INVALID")] * limit + [(429, "RATE_LIMIT")] * (ATTEMPTS - limit), got
            # Throttled per address, not per account: A's own right password is refused too.
            assert _summary([_login(a, "client-a@example.com", PASSWORD)]) == [(429, "RATE_LIMIT")]

            # Client B, at once: its own login goes through.
            ok = _login(b, "client-b@example.com", PASSWORD)
            assert ok.status_code == 200, ok.text
            assert ok.json()["user"]["email"] == "client-b@example.com" and ok.json()["token"]

        # Straight to gunicorn, not through nginx, from an address that is not a trusted proxy: X-Forwarded-For is not
        # believed, however it is forged (even as a chain through 127.0.0.1). X-Forwarded-Proto avoids the TLS redirect.
        with _client(app, DIRECT) as direct:
            attempts = [
                _login(
                    direct,
                    f"other{i}@example.com",
                    "wrong-password",
                    {"X-Forwarded-For": f"192.0.2.{i}, 127.0.0.1", "X-Forwarded-Proto": "https"},
                )
                for i in range(limit + 5)
            ]
            got = _summary(attempts)
            assert got == [(401, "AUTH_INVALID")] * limit + [(429, "RATE_LIMIT")] * 5, got
            # Nor does the right password of an account.
            assert _summary(
                [
                    _login(
                        direct,
                        "client-a@example.com",
                        PASSWORD,
                        {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
                    )
                ]
            ) == [(429, "RATE_LIMIT")]

        # nginx saw the two proxied clients at their own addresses (its access log's first field).
        peers = {line.split(" ", 1)[0] for line in (workdir / "access.log").read_text().splitlines()}
        assert {CLIENT_A, CLIENT_B} <= peers, peers
