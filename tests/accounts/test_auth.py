"""Registration, login, JWT refresh, 2FA end to end with real TOTP codes, invite codes, API keys."""

import base64
import logging
from datetime import timedelta

import pytest
from django.test import override_settings
from django_otp.oath import totp

from accounts.models import ApiKey, InviteCode, User
from tests.helpers import assert_error, client_for, start_of_fresh_totp_step

PASSWORD = "Str0ng-Passphrase!"


def code_for(secret, drift=0):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, drift=drift):06d}"


def register(api_client, email="john@example.com", **extra):
    body = {"email": email, "password": PASSWORD, "first_name": "John", **extra}
    return api_client.post("/api/auth/register", body, format="json")


@pytest.mark.django_db
class TestRegister:
    def test_success_shape(self, api_client):
        r = register(api_client)
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"token", "refresh", "user"}
        user = body["user"]
        assert {"id", "email", "first_name", "currency", "system_mode", "two_factor_enabled"} <= set(user)
        assert user["email"] == "john@example.com" and user["first_name"] == "John"
        assert user["currency"] == "ZAR" and user["system_mode"] == "testing" and user["two_factor_enabled"] is False
        assert "password" not in r.content.decode()

    def test_token_works(self, api_client):
        token = register(api_client).json()["token"]
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        me = api_client.get("/api/auth/me")
        assert me.status_code == 200 and me.json()["user"]["email"] == "john@example.com"

    def test_duplicate_email_case_insensitive(self, api_client):
        register(api_client)
        assert_error(register(api_client, email="JOHN@example.com"), 400, "VALIDATION_ERROR")
        assert User.objects.count() == 1

    @pytest.mark.parametrize(
        "body, field",
        [
            ({"password": PASSWORD}, "email"),
            ({"email": "not-an-email", "password": PASSWORD}, "email"),
            ({"email": "a@example.com"}, "password"),
            ({"email": "a@example.com", "password": "short"}, "password"),
            ({"email": "a@example.com", "password": "password123"}, "password"),
        ],
    )
    def test_validation(self, api_client, body, field):
        body_json = assert_error(api_client.post("/api/auth/register", body, format="json"), 400, "VALIDATION_ERROR")
        assert field in body_json["error"]
        assert User.objects.count() == 0

    def test_malformed_json_and_wrong_media_type(self, api_client):
        r = api_client.generic("POST", "/api/auth/register", "{not json", content_type="application/json")
        assert_error(r, 400, "VALIDATION_ERROR")
        r = api_client.generic("POST", "/api/auth/register", "email=a", content_type="text/plain")
        assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")

    def test_invite_code_unknown_and_used(self, api_client, make_user):
        assert_error(register(api_client, invite_code="nope"), 400, "VALIDATION_ERROR")
        InviteCode.objects.create(code="WELCOME1")
        assert register(api_client, email="a@example.com", invite_code="WELCOME1").status_code == 200
        assert InviteCode.objects.get(code="WELCOME1").used_by.email == "a@example.com"
        assert_error(register(api_client, email="b@example.com", invite_code="WELCOME1"), 400, "VALIDATION_ERROR")

    @override_settings(REQUIRE_INVITE_CODE=True)
    def test_invite_code_required(self, api_client):
        assert_error(register(api_client), 400, "VALIDATION_ERROR")
        InviteCode.objects.create(code="ABC")
        assert register(api_client, invite_code="ABC").status_code == 200


@pytest.mark.django_db
class TestLogin:
    def test_success_and_refresh(self, api_client, make_user):
        make_user(email="jane@example.com", password=PASSWORD, first_name="Jane")
        r = api_client.post("/api/auth/login", {"email": "Jane@Example.com", "password": PASSWORD}, format="json")
        assert r.status_code == 200
        body = r.json()
        assert body["user"] == {**body["user"], "email": "jane@example.com", "first_name": "Jane"}
        assert {"id", "email", "first_name"} <= set(body["user"])
        refreshed = api_client.post("/api/auth/refresh", {"refresh": body["refresh"]}, format="json")
        assert refreshed.status_code == 200 and refreshed.json()["token"]
        assert_error(api_client.post("/api/auth/refresh", {"refresh": "garbage"}, format="json"), 401, "AUTH_INVALID")

    def test_wrong_password(self, api_client, make_user):
        make_user(email="jane@example.com", password=PASSWORD)
        r = api_client.post("/api/auth/login", {"email": "jane@example.com", "password": "wrong-one"}, format="json")
        assert_error(r, 401, "AUTH_INVALID")
        r = api_client.post("/api/auth/login", {"email": "nobody@example.com", "password": PASSWORD}, format="json")
        assert_error(r, 401, "AUTH_INVALID")

    def test_inactive_user_cannot_login(self, api_client, make_user):
        make_user(email="gone@example.com", password=PASSWORD, is_active=False)
        r = api_client.post("/api/auth/login", {"email": "gone@example.com", "password": PASSWORD}, format="json")
        assert_error(r, 401, "AUTH_INVALID")


@pytest.mark.django_db
class TestAuthErrors:
    def test_missing_token(self, api_client):
        assert_error(api_client.get("/api/auth/me"), 401, "AUTH_REQUIRED")

    def test_garbage_and_tampered_token(self, api_client, user):
        api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
        assert_error(api_client.get("/api/auth/me"), 401, "AUTH_INVALID")
        client = client_for(user)
        token = client._credentials["HTTP_AUTHORIZATION"].split()[1]
        header, payload, signature = token.split(".")
        tampered = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tampered}")
        assert_error(api_client.get("/api/auth/me"), 401, "AUTH_INVALID")

    def test_expired_token(self, api_client, user):
        from datetime import timedelta

        from rest_framework_simplejwt.tokens import AccessToken

        token = AccessToken.for_user(user)
        token.set_exp(lifetime=-timedelta(seconds=5))
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert_error(api_client.get("/api/auth/me"), 401, "AUTH_INVALID")

    def test_a_token_already_accepted_is_refused_once_it_expires(self, api_client, user):
        """Validated tokens are memoized per process; the memo must not outlive the token's exp."""
        import time
        from datetime import timedelta

        from rest_framework_simplejwt.tokens import AccessToken

        token = AccessToken.for_user(user)
        token.set_exp(lifetime=timedelta(seconds=2))  # "exp" is whole seconds: 1 to 2 s from now
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert api_client.get("/api/auth/me").status_code == 200
        assert api_client.get("/api/auth/me").status_code == 200  # from the memo
        time.sleep(max(0.0, token["exp"] - time.time()) + 0.05)
        assert_error(api_client.get("/api/auth/me"), 401, "AUTH_INVALID")


@pytest.mark.django_db
class TestTwoFactor:
    def test_end_to_end(self, api_client, make_user, caplog):
        caplog.set_level(logging.DEBUG)
        user = make_user(email="totp@example.com", password=PASSWORD)
        client = client_for(user)
        enroll = client.post("/api/auth/2fa/enroll")
        assert enroll.status_code == 200
        body = enroll.json()
        assert body["success"] is True
        secret = body["secret"]
        assert body["provisioning_uri"].startswith("otpauth://totp/Amarktai")
        assert f"secret={secret}" in body["provisioning_uri"] and "issuer=Amarktai" in body["provisioning_uri"]
        assert body["qr_code"].startswith("data:image/png;base64,")
        assert base64.b64decode(body["qr_code"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"

        # A wrong code does not enable 2FA.
        wrong = "000000" if code_for(secret) != "000000" else "111111"
        assert_error(client.post("/api/auth/2fa/verify", {"totp_code": wrong}, format="json"), 400, "VALIDATION_ERROR")
        user.refresh_from_db()
        assert user.two_factor_enabled is False

        from django_otp.plugins.otp_totp.models import TOTPDevice

        TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)
        start_of_fresh_totp_step()  # the rest of this test runs within one time step
        ok = client.post("/api/auth/2fa/verify", {"totp_code": code_for(secret)}, format="json")
        assert ok.status_code == 200
        assert {k: v for k, v in ok.json().items() if k != "backup_codes"} == {
            "success": True,
            "message": "2FA enabled successfully",
        }
        assert len(ok.json()["backup_codes"]) == 10  # shown this once (tests/accounts/test_backup_codes.py)
        user.refresh_from_db()
        assert user.two_factor_enabled is True

        # The secret is never shown again.
        me = client.get("/api/auth/me")
        assert me.json()["user"]["two_factor_enabled"] is True
        assert secret not in me.content.decode()
        assert_error(client.post("/api/auth/2fa/enroll"), 400, "VALIDATION_ERROR")

        # Login now needs a code.
        creds = {"email": "totp@example.com", "password": PASSWORD}
        r = api_client.post("/api/auth/login", creds, format="json")
        body = assert_error(r, 401, "AUTH_REQUIRED")
        assert body["details"]["two_factor_required"] is True
        r = api_client.post("/api/auth/login", {**creds, "totp_code": "12345"}, format="json")
        assert_error(r, 401, "AUTH_INVALID")
        TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)
        # The code used to verify cannot be replayed (and says so); the next time step's code works.
        r = api_client.post("/api/auth/login", {**creds, "totp_code": code_for(secret)}, format="json")
        assert_error(r, 401, "TOTP_REUSED")
        TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)
        r = api_client.post("/api/auth/login", {**creds, "totp_code": code_for(secret, drift=1)}, format="json")
        assert r.status_code == 200, r.content
        assert r.json()["token"]
        # ...and that one cannot be used twice either.
        TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)
        r = api_client.post("/api/auth/login", {**creds, "totp_code": code_for(secret, drift=1)}, format="json")
        assert_error(r, 401, "TOTP_REUSED")

        # The TOTP secret and password never reach the logs.
        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert secret not in logged and PASSWORD not in logged

    def test_code_sent_during_the_wrong_code_delay_is_rate_limited_not_invalid(self, api_client, make_user):
        """After a wrong code django-otp refuses to check any code for 1 s, then 2 s, 4 s...: say so (429 with the
        wait), rather than calling a correct code invalid. Once the delay is over the right code works."""
        from django_otp.plugins.otp_totp.models import TOTPDevice

        user = make_user(email="slow@example.com", password=PASSWORD)
        client = client_for(user)
        secret = client.post("/api/auth/2fa/enroll").json()["secret"]
        start_of_fresh_totp_step()
        assert client.post("/api/auth/2fa/verify", {"totp_code": code_for(secret)}, format="json").status_code == 200
        creds = {"email": "slow@example.com", "password": PASSWORD}
        wrong = "000000" if code_for(secret, drift=1) != "000000" else "111111"  # well-formed: it is checked
        assert_error(
            api_client.post("/api/auth/login", {**creds, "totp_code": wrong}, format="json"), 401, "AUTH_INVALID"
        )
        r = api_client.post("/api/auth/login", {**creds, "totp_code": code_for(secret, drift=1)}, format="json")
        body = assert_error(r, 429, "RATE_LIMIT")
        assert "Try again in 1 second." in body["error"] and r["Retry-After"] == "1"
        device = TOTPDevice.objects.get(user=user)
        assert device.throttling_failure_count == 1  # the refused attempt checked no code and counts no failure
        device.throttling_failure_timestamp -= timedelta(seconds=1)  # the delay is over
        device.save(update_fields=["throttling_failure_timestamp"])
        r = api_client.post("/api/auth/login", {**creds, "totp_code": code_for(secret, drift=1)}, format="json")
        assert r.status_code == 200, r.content

    def test_verify_without_enrolment(self, auth_client):
        assert_error(
            auth_client.post("/api/auth/2fa/verify", {"totp_code": "123456"}, format="json"), 400, "VALIDATION_ERROR"
        )

    def test_verify_rejects_non_numeric(self, auth_client):
        auth_client.post("/api/auth/2fa/enroll")
        assert_error(
            auth_client.post("/api/auth/2fa/verify", {"totp_code": "abcdef"}, format="json"), 400, "VALIDATION_ERROR"
        )

    def test_enrol_requires_auth(self, api_client):
        assert_error(api_client.post("/api/auth/2fa/enroll"), 401, "AUTH_REQUIRED")


@pytest.mark.django_db
class TestApiKeys:
    def test_create_use_list_revoke(self, auth_client, user, api_client):
        r = auth_client.post("/api/auth/api-keys", {"name": "trading script"}, format="json")
        assert r.status_code == 201
        created = r.json()["api_key"]
        raw = created["key"]
        assert raw.startswith("amk_") and created["name"] == "trading script"
        stored = ApiKey.objects.get(pk=created["id"])
        assert raw not in (stored.key_hash, stored.key_prefix) and stored.key_hash == ApiKey.hash(raw)

        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        me = api_client.get("/api/auth/me")
        assert me.status_code == 200 and me.json()["user"]["email"] == user.email

        listing = auth_client.get("/api/auth/api-keys")
        assert listing.status_code == 200
        assert raw not in listing.content.decode()
        assert [k["id"] for k in listing.json()["api_keys"]] == [created["id"]]

        revoke = auth_client.delete(f"/api/auth/api-keys/{created['id']}")
        assert revoke.status_code == 200 and revoke.json()["api_key"]["active"] is False
        assert_error(api_client.get("/api/auth/me"), 401, "AUTH_INVALID")

    def test_other_users_key_is_not_found(self, auth_client, other_client):
        key_id = auth_client.post("/api/auth/api-keys", {"name": "mine"}, format="json").json()["api_key"]["id"]
        assert_error(other_client.delete(f"/api/auth/api-keys/{key_id}"), 404, "NOT_FOUND")
        assert other_client.get("/api/auth/api-keys").json()["api_keys"] == []

    def test_unknown_key_rejected(self, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Bearer amk_doesnotexist")
        assert_error(api_client.get("/api/auth/me"), 401, "AUTH_INVALID")

    def test_name_required(self, auth_client):
        assert_error(auth_client.post("/api/auth/api-keys", {"name": ""}, format="json"), 400, "VALIDATION_ERROR")


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.django_db
def test_two_factor_codes_are_ascii_digits_only(api_client, make_user):
    """int() reads Arabic-Indic digits too; a code written in them is not the code, at verify or at login."""
    user = make_user(email="digits@example.com", password=PASSWORD)
    client = client_for(user)
    secret = client.post("/api/auth/2fa/enroll").json()["secret"]
    start_of_fresh_totp_step()
    foreign = code_for(secret).translate(ARABIC_INDIC)
    assert_error(client.post("/api/auth/2fa/verify", {"totp_code": foreign}, format="json"), 400, "VALIDATION_ERROR")
    assert client.post("/api/auth/2fa/verify", {"totp_code": code_for(secret)}, format="json").status_code == 200
    creds = {"email": "digits@example.com", "password": PASSWORD}
    r = api_client.post(
        "/api/auth/login", {**creds, "totp_code": code_for(secret, drift=1).translate(ARABIC_INDIC)}, format="json"
    )
    assert_error(r, 401, "AUTH_INVALID")
