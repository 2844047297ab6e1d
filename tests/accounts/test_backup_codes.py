"""Two-factor backup codes (shown once, stored hashed, each single use, accepted wherever a TOTP code is at login) and
the clear message for a TOTP code used twice."""

import base64
import logging

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import BackupCode
from tests.helpers import assert_error, client_for, start_of_fresh_totp_step

PASSWORD = "S3cure-pass-123"


def code_for(secret, drift=0):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, drift=drift):06d}"


def enable_2fa(user):
    """2FA on for ``user``: (client, secret, backup codes from the verify answer)."""
    client = client_for(user)
    secret = client.post("/api/auth/2fa/enroll").json()["secret"]
    start_of_fresh_totp_step()
    r = client.post("/api/auth/2fa/verify", {"totp_code": code_for(secret)}, format="json")
    assert r.status_code == 200, r.content
    return client, secret, r.json()["backup_codes"]


def login(api_client, user, code):
    return api_client.post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD, "totp_code": code}, format="json"
    )


def unthrottle(user):
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)


@pytest.mark.django_db
class TestBackupCodes:
    def test_shown_once_and_stored_hashed(self, user, caplog):
        caplog.set_level(logging.DEBUG)
        client, _, codes = enable_2fa(user)
        assert len(codes) == 10 and len(set(codes)) == 10
        assert all(len(c) == 11 and c[5] == "-" for c in codes)
        stored = list(BackupCode.objects.filter(user=user).values_list("code_hash", flat=True))
        assert len(stored) == 10
        for code in codes:
            bare = code.replace("-", "")
            assert all(bare not in h and code not in h for h in stored)
            assert len(stored[0]) == 64
        # Never returned again: the status says only how many are left.
        status = client.get("/api/auth/2fa/backup-codes")
        assert status.status_code == 200
        body = status.json()
        assert body["remaining"] == 10 and body["total"] == 10 and body["generated_at"].endswith("Z")
        for text in (status.content.decode(), client.get("/api/auth/me").content.decode()):
            assert not any(c in text or c.replace("-", "") in text for c in codes)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert not any(c in logged or c.replace("-", "") in logged for c in codes)

    def test_a_code_signs_in_once(self, api_client, user):
        _, _, codes = enable_2fa(user)
        r = login(api_client, user, codes[0])
        assert r.status_code == 200, r.content
        assert r.json()["token"]
        assert_error(login(api_client, user, codes[0]), 401, "AUTH_INVALID")
        # Typed differently (upper case, spaces instead of the dash) it is the same code: still spent.
        assert_error(login(api_client, user, codes[0].upper().replace("-", " ")), 401, "AUTH_INVALID")
        # Another one still works, typed without the dash.
        assert login(api_client, user, codes[1].replace("-", "").upper()).status_code == 200
        assert client_for(user).get("/api/auth/2fa/backup-codes").json()["remaining"] == 8

    def test_a_code_needs_the_password(self, api_client, user):
        _, _, codes = enable_2fa(user)
        r = api_client.post(
            "/api/auth/login", {"email": user.email, "password": "wrong-Pass-123", "totp_code": codes[0]}, format="json"
        )
        assert_error(r, 401, "AUTH_INVALID")
        assert client_for(user).get("/api/auth/2fa/backup-codes").json()["remaining"] == 10

    def test_another_users_code_does_not_work(self, api_client, user, other_user):
        _, _, mine = enable_2fa(user)
        enable_2fa(other_user)
        r = api_client.post(
            "/api/auth/login", {"email": other_user.email, "password": PASSWORD, "totp_code": mine[0]}, format="json"
        )
        assert_error(r, 401, "AUTH_INVALID")

    def test_regenerate_needs_the_password_or_a_code_and_replaces_the_old_ones(self, api_client, user):
        client, secret, old = enable_2fa(user)
        assert_error(client.post("/api/auth/2fa/backup-codes", {}, format="json"), 400, "VALIDATION_ERROR")
        wrong = client.post("/api/auth/2fa/backup-codes", {"password": "nope-Nope-123"}, format="json")
        assert_error(wrong, 400, "VALIDATION_ERROR")
        r = client.post("/api/auth/2fa/backup-codes", {"password": PASSWORD}, format="json")
        assert r.status_code == 200, r.content
        new = r.json()["backup_codes"]
        assert len(new) == 10 and not set(new) & set(old) and r.json()["remaining"] == 10
        assert_error(login(api_client, user, old[2]), 401, "AUTH_INVALID")
        assert login(api_client, user, new[2]).status_code == 200
        # With a TOTP code instead of the password (the next step's: the current one was spent at enrolment).
        unthrottle(user)
        r = client.post("/api/auth/2fa/backup-codes", {"totp_code": code_for(secret, drift=1)}, format="json")
        assert r.status_code == 200, r.content
        assert not set(r.json()["backup_codes"]) & set(new)
        # That code again: reused, said clearly, and as a 400 (a signed-in caller's 401 would mean "session over").
        r = client.post("/api/auth/2fa/backup-codes", {"totp_code": code_for(secret, drift=1)}, format="json")
        body = assert_error(r, 400, "TOTP_REUSED")
        assert body["error"] == "This code was already used; wait for the next one"

    def test_without_2fa_there_is_nothing_to_regenerate(self, user):
        client = client_for(user)
        assert client.get("/api/auth/2fa/backup-codes").json()["total"] == 0
        r = client.post("/api/auth/2fa/backup-codes", {"password": PASSWORD}, format="json")
        assert_error(r, 400, "VALIDATION_ERROR")

    def test_api_keys_cannot_read_or_make_codes(self, user):
        from rest_framework.test import APIClient

        from accounts.models import ApiKey

        enable_2fa(user)
        _, raw = ApiKey.generate(user, "bot", scopes=["read", "trade"])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert_error(client.get("/api/auth/2fa/backup-codes"), 403, "PERMISSION_DENIED")
        r = client.post("/api/auth/2fa/backup-codes", {"password": PASSWORD}, format="json")
        assert_error(r, 403, "PERMISSION_DENIED")


@pytest.mark.django_db
class TestTotpReuse:
    def test_a_code_used_twice_gets_its_own_message(self, api_client, user):
        _, secret, _ = enable_2fa(user)
        unthrottle(user)
        nxt = code_for(secret, drift=1)
        assert login(api_client, user, nxt).status_code == 200
        body = assert_error(login(api_client, user, nxt), 401, "TOTP_REUSED")
        assert body["error"] == "This code was already used; wait for the next one"
        assert body["details"]["two_factor_required"] is True
        # Not counted as a wrong code: django-otp's delay did not start, so a right code is not refused.
        assert TOTPDevice.objects.get(user=user).throttling_failure_count == 0

    def test_a_wrong_code_is_still_invalid(self, api_client, user):
        _, secret, _ = enable_2fa(user)
        wrong = "000000" if code_for(secret, drift=1) not in {"000000"} and code_for(secret) != "000000" else "111111"
        assert_error(login(api_client, user, wrong), 401, "AUTH_INVALID")


@pytest.mark.django_db
def test_the_django_admin_takes_a_backup_code_once(django_user_model):
    from django.test import Client

    from tests.system.test_django_admin import admin_login, form_errors, logged_in

    staff = django_user_model.objects.create_superuser(email="ops.backup@example.com", password=PASSWORD)
    _, _, codes = enable_2fa(staff)
    assert logged_in(admin_login(Client(), staff.email, PASSWORD, codes[0]))
    again = admin_login(Client(), staff.email, PASSWORD, codes[0])
    assert again.status_code == 200 and "not valid" in form_errors(again)


@pytest.mark.django_db
def test_a_backup_code_passes_the_lockout_like_a_valid_totp_code(api_client, user, settings):
    """Locked out behind a shared address: the right password with an unused backup code goes through (once); a
    backup code with a wrong password gets the same refusal as everything else and is not spent."""
    settings.LOGIN_LOCKOUT_THRESHOLD = 3
    _, _, codes = enable_2fa(user)
    shared = {"HTTP_X_FORWARDED_FOR": "203.0.113.77"}

    def attempt(password, code=None):
        body = {"email": user.email, "password": password, **({"totp_code": code} if code else {})}
        return api_client.post("/api/auth/login", body, format="json", **shared)

    for _ in range(3):
        attempt("guess-Guess-1")
    assert_error(attempt(PASSWORD), 429, "RATE_LIMIT")
    assert_error(attempt("guess-Guess-1", codes[0]), 429, "RATE_LIMIT")
    ok = attempt(PASSWORD, codes[0])
    assert ok.status_code == 200, ok.content
    # The success cleared this address's lock; the spent code is now simply invalid.
    assert_error(attempt(PASSWORD, codes[0]), 401, "AUTH_INVALID")
    assert client_for(user).get("/api/auth/2fa/backup-codes").json()["remaining"] == 9
