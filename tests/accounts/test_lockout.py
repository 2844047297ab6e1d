"""Growing lockout after repeated failed logins; success resets it."""

import time

import pytest

from accounts import lockout
from tests.helpers import assert_error

PASSWORD = "Str0ng-Passphrase!"


@pytest.mark.django_db
def test_lockout_grows_and_blocks_even_the_right_password(api_client, make_user, settings, monkeypatch):
    settings.LOGIN_LOCKOUT_THRESHOLD = 3
    make_user(email="target@example.com", password=PASSWORD)
    bad = {"email": "target@example.com", "password": "nope"}
    for _ in range(2):
        assert_error(api_client.post("/api/auth/login", bad, format="json"), 401, "AUTH_INVALID")
    # Third failure reaches the threshold: locked for 30 s.
    assert_error(api_client.post("/api/auth/login", bad, format="json"), 401, "AUTH_INVALID")
    r = api_client.post("/api/auth/login", {**bad, "password": PASSWORD}, format="json")
    body = assert_error(r, 429, "RATE_LIMIT")
    assert "Try again in" in body["error"]
    assert 25 <= int(r["Retry-After"]) <= 31

    # After the lock expires one more failure locks for twice as long.
    now = time.time()
    monkeypatch.setattr(lockout.time, "time", lambda: now + 31)
    assert_error(api_client.post("/api/auth/login", bad, format="json"), 401, "AUTH_INVALID")
    r = api_client.post("/api/auth/login", {**bad, "password": PASSWORD}, format="json")
    assert_error(r, 429, "RATE_LIMIT")
    assert 55 <= int(r["Retry-After"]) <= 61

    # Once the lock has passed, the right password works and clears the counter.
    monkeypatch.setattr(lockout.time, "time", lambda: now + 31 + 61)
    assert api_client.post("/api/auth/login", {**bad, "password": PASSWORD}, format="json").status_code == 200
    assert_error(api_client.post("/api/auth/login", bad, format="json"), 401, "AUTH_INVALID")
    assert api_client.post("/api/auth/login", {**bad, "password": PASSWORD}, format="json").status_code == 200


@pytest.mark.django_db
def test_lockout_is_per_account(api_client, make_user, settings):
    settings.LOGIN_LOCKOUT_THRESHOLD = 2
    make_user(email="a@example.com", password=PASSWORD)
    make_user(email="b@example.com", password=PASSWORD)
    for _ in range(2):
        api_client.post("/api/auth/login", {"email": "a@example.com", "password": "x"}, format="json")
    assert_error(
        api_client.post("/api/auth/login", {"email": "a@example.com", "password": PASSWORD}, format="json"),
        429,
        "RATE_LIMIT",
    )
    assert (
        api_client.post("/api/auth/login", {"email": "b@example.com", "password": PASSWORD}, format="json").status_code
        == 200
    )
