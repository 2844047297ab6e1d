"""Sessions can be ended: refresh tokens rotate and work once, logout ends one session, log out everywhere ends them
all (and closes the user's sockets), password change and reset (by email, single-use, time-limited) end them too."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.test import override_settings
from django.utils import timezone

from accounts import signals
from accounts.models import ApiKey, User
from tests.helpers import assert_error
from tests.realtime.conftest import run, ws_connect

PASSWORD = "S3cure-pass-123"  # the make_user fixture's default
NEW_PASSWORD = "Brand-new-Passphrase-42"


def login(api_client, user, password=PASSWORD):
    r = api_client.post("/api/auth/login", {"email": user.email, "password": password}, format="json")
    assert r.status_code == 200, r.content
    return r.json()


def me(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    try:
        return api_client.get("/api/auth/me")
    finally:
        api_client.credentials()


def refresh(api_client, token):
    return api_client.post("/api/auth/refresh", {"refresh": token}, format="json")


@pytest.fixture
def revocations():
    """Every sessions_revoked signal sent during the test, as (user_id, reason)."""
    seen = []

    def receiver(sender, user_id, reason, **kwargs):
        seen.append((user_id, reason))

    signals.sessions_revoked.connect(receiver, dispatch_uid="test-sessions-revoked")
    yield seen
    signals.sessions_revoked.disconnect(dispatch_uid="test-sessions-revoked")


@pytest.mark.django_db
class TestRefreshRotation:
    def test_a_refresh_token_works_once(self, api_client, user):
        first = login(api_client, user)["refresh"]
        rotated = refresh(api_client, first)
        assert rotated.status_code == 200
        body = rotated.json()
        assert body["refresh"] != first and body["token"] == body["access"]
        assert me(api_client, body["token"]).status_code == 200

        assert_error(refresh(api_client, first), 401, "AUTH_INVALID")  # spent
        again = refresh(api_client, body["refresh"])  # the new one works, once
        assert again.status_code == 200
        assert_error(refresh(api_client, body["refresh"]), 401, "AUTH_INVALID")

    def test_rotated_tokens_stay_in_the_same_session(self, api_client, user):
        """Log out everywhere ends the session whatever refresh it has reached."""
        tokens = login(api_client, user)
        rotated = refresh(api_client, tokens["refresh"]).json()
        User.objects.filter(pk=user.pk).update(tokens_valid_after=timezone.now())
        assert_error(me(api_client, rotated["token"]), 401, "AUTH_INVALID")
        assert_error(refresh(api_client, rotated["refresh"]), 401, "AUTH_INVALID")

    def test_garbage_and_access_tokens_are_not_refresh_tokens(self, api_client, user):
        tokens = login(api_client, user)
        assert_error(refresh(api_client, "garbage"), 401, "AUTH_INVALID")
        assert_error(refresh(api_client, tokens["token"]), 401, "AUTH_INVALID")
        assert_error(api_client.post("/api/auth/refresh", {}, format="json"), 400, "VALIDATION_ERROR")

    def test_spent_tokens_are_forgotten_once_expired(self, api_client, user):
        from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

        first = login(api_client, user)["refresh"]
        assert refresh(api_client, first).status_code == 200
        assert OutstandingToken.objects.filter(user=user).count() == 2 and BlacklistedToken.objects.count() == 1
        OutstandingToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
        login(api_client, user)
        assert OutstandingToken.objects.filter(user=user).count() == 1 and BlacklistedToken.objects.count() == 0

    def test_a_deleted_users_refresh_token_is_refused(self, api_client, make_user):
        gone = make_user()
        tokens = login(api_client, gone)
        gone.delete()
        assert_error(refresh(api_client, tokens["refresh"]), 401, "AUTH_INVALID")


@pytest.mark.django_db
class TestLogout:
    def test_logout_ends_this_session_only(self, api_client, user):
        mine = login(api_client, user)
        other = login(api_client, user)
        r = api_client.post("/api/auth/logout", {"refresh": mine["refresh"]}, format="json")
        assert r.status_code == 200 and r.json()["success"] is True

        assert_error(refresh(api_client, mine["refresh"]), 401, "AUTH_INVALID")
        assert_error(me(api_client, mine["token"]), 401, "AUTH_INVALID")  # its access token too
        assert me(api_client, other["token"]).status_code == 200  # the other session is untouched
        assert refresh(api_client, other["refresh"]).status_code == 200

    def test_logout_with_a_bad_token(self, api_client, user):
        assert_error(api_client.post("/api/auth/logout", {"refresh": "garbage"}, format="json"), 401, "AUTH_INVALID")
        assert_error(api_client.post("/api/auth/logout", {}, format="json"), 400, "VALIDATION_ERROR")


@pytest.mark.django_db
class TestLogoutEverywhere:
    def test_every_session_ends_and_realtime_is_told(
        self, api_client, user, other_user, revocations, django_capture_on_commit_callbacks
    ):
        first, second = login(api_client, user), login(api_client, user)
        bystander = login(api_client, other_user)
        _key, raw_key = ApiKey.generate(user, "script")
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {first['token']}")
        with django_capture_on_commit_callbacks(execute=True):
            r = api_client.post("/api/auth/logout-everywhere")
        api_client.credentials()
        assert r.status_code == 200

        for session in (first, second):
            assert_error(me(api_client, session["token"]), 401, "AUTH_INVALID")
            assert_error(refresh(api_client, session["refresh"]), 401, "AUTH_INVALID")
        assert revocations == [(user.pk, signals.REASON_LOGOUT_EVERYWHERE)]
        assert me(api_client, bystander["token"]).status_code == 200  # another user's sessions are untouched
        assert me(api_client, raw_key).status_code == 200  # API keys are revoked one by one, not here
        fresh = login(api_client, user)  # logging in again starts a new session
        assert me(api_client, fresh["token"]).status_code == 200

    def test_needs_authentication(self, api_client):
        assert_error(api_client.post("/api/auth/logout-everywhere"), 401, "AUTH_REQUIRED")


@pytest.mark.django_db(transaction=True)
def test_log_out_everywhere_closes_open_sockets(user):
    """End to end through realtime's receiver of sessions_revoked: a socket open with the session's token closes."""
    from asgiref.sync import sync_to_async
    from rest_framework.test import APIClient

    from accounts import services

    tokens = services.issue_tokens(user)

    def log_out_everywhere():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['token']}")
        return client.post("/api/auth/logout-everywhere").status_code

    async def scenario():
        comm = await ws_connect(token=tokens["token"])
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from(3))["type"] == "pong"
        assert await sync_to_async(log_out_everywhere)() == 200
        for _ in range(5):  # events that were already on their way may come first
            message = await comm.receive_output(5)
            if message["type"] == "websocket.close":
                assert message["code"] == 4401
                return
        raise AssertionError("the socket stayed open")

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_sockets_opened_with_revoked_tokens_are_refused(user):
    from asgiref.sync import sync_to_async

    from accounts import services

    tokens = services.issue_tokens(user)

    async def scenario():
        comm = await ws_connect(token=tokens["token"])
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from(3))["type"] == "pong"
        await comm.disconnect()
        await sync_to_async(services.revoke_sessions)(user)
        comm = await ws_connect(token=tokens["token"])
        assert await comm.receive_output(3) == {"type": "websocket.close", "code": 4401}

    run(scenario)


@pytest.mark.django_db
class TestPasswordChange:
    def change(self, api_client, token, old, new):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            return api_client.post(
                "/api/auth/password/change", {"old_password": old, "new_password": new}, format="json"
            )
        finally:
            api_client.credentials()

    def test_change_ends_other_sessions_and_keeps_this_one(
        self, api_client, user, revocations, django_capture_on_commit_callbacks
    ):
        here, elsewhere = login(api_client, user), login(api_client, user)
        with django_capture_on_commit_callbacks(execute=True):
            r = self.change(api_client, here["token"], PASSWORD, NEW_PASSWORD)
        assert r.status_code == 200
        body = r.json()
        assert body["success"] is True and {"token", "refresh"} <= set(body)
        assert me(api_client, body["token"]).status_code == 200  # this session carries on with the new tokens
        assert refresh(api_client, body["refresh"]).status_code == 200
        for session in (here, elsewhere):
            assert_error(me(api_client, session["token"]), 401, "AUTH_INVALID")
            assert_error(refresh(api_client, session["refresh"]), 401, "AUTH_INVALID")
        assert revocations == [(user.pk, signals.REASON_PASSWORD_CHANGED)]
        bad = api_client.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
        assert_error(bad, 401, "AUTH_INVALID")
        login(api_client, user, NEW_PASSWORD)

    def test_wrong_current_password_and_weak_new_one(self, api_client, user):
        token = login(api_client, user)["token"]
        assert_error(self.change(api_client, token, "not-my-password", NEW_PASSWORD), 400, "VALIDATION_ERROR")
        assert_error(self.change(api_client, token, PASSWORD, "short"), 400, "VALIDATION_ERROR")
        assert me(api_client, token).status_code == 200
        login(api_client, user, PASSWORD)


@pytest.mark.django_db
class TestPasswordReset:
    def request_reset(self, api_client, email):
        return api_client.post("/api/auth/password/reset", {"email": email}, format="json")

    def confirm(self, api_client, uid, token, password=NEW_PASSWORD):
        body = {"uid": uid, "token": token, "new_password": password}
        return api_client.post("/api/auth/password/reset/confirm", body, format="json")

    def emailed(self, mail):
        uid = re.search(r"^uid: (\S+)$", mail.body, re.M).group(1)
        token = re.search(r"^token: (\S+)$", mail.body, re.M).group(1)
        return uid, token

    def test_reset_by_email_once(self, api_client, user, mailoutbox, revocations, django_capture_on_commit_callbacks):
        session = login(api_client, user)
        r = self.request_reset(api_client, user.email.upper())
        assert r.status_code == 200 and r.json()["success"] is True
        assert len(mailoutbox) == 1 and mailoutbox[0].to == [user.email]
        uid, token = self.emailed(mailoutbox[0])

        with django_capture_on_commit_callbacks(execute=True):
            assert self.confirm(api_client, uid, token).status_code == 200
        login(api_client, user, NEW_PASSWORD)
        assert_error(me(api_client, session["token"]), 401, "AUTH_INVALID")
        assert_error(refresh(api_client, session["refresh"]), 401, "AUTH_INVALID")
        assert revocations == [(user.pk, signals.REASON_PASSWORD_RESET)]

        again = assert_error(self.confirm(api_client, uid, token, "Yet-another-Passphrase-7"), 400, "VALIDATION_ERROR")
        assert again["details"] == {"token": ["invalid or expired"]}
        login(api_client, user, NEW_PASSWORD)

    def test_unknown_and_inactive_accounts_get_the_same_answer_and_no_email(self, api_client, make_user, mailoutbox):
        sleeper = make_user(is_active=False)
        unknown = self.request_reset(api_client, "nobody@example.com")
        inactive = self.request_reset(api_client, sleeper.email)
        assert unknown.status_code == inactive.status_code == 200
        assert unknown.json()["message"] == inactive.json()["message"]
        assert mailoutbox == []

    @override_settings(PASSWORD_RESET_URL="https://trade.example.com/reset-password")
    def test_the_email_links_to_the_reset_page_when_there_is_one(self, api_client, user, mailoutbox):
        self.request_reset(api_client, user.email)
        uid, token = self.emailed(mailoutbox[0])
        assert f"https://trade.example.com/reset-password?uid={uid}&token={token}" in mailoutbox[0].body

    @override_settings(PASSWORD_RESET_TIMEOUT=600)
    def test_the_token_expires(self, api_client, user, mailoutbox, monkeypatch):
        self.request_reset(api_client, user.email)
        uid, token = self.emailed(mailoutbox[0])
        later = PasswordResetTokenGenerator._now(PasswordResetTokenGenerator()) + timedelta(seconds=601)
        monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)
        assert_error(self.confirm(api_client, uid, token), 400, "VALIDATION_ERROR")
        login(api_client, user, PASSWORD)

    @pytest.mark.parametrize(
        "uid, token",
        [("garbage", "1-2"), ("", ""), ("MQ", "abc-def"), ("bm90LWEtdXVpZA", "abc-def")],
    )
    def test_bad_uids_and_tokens(self, api_client, user, uid, token):
        assert_error(self.confirm(api_client, uid, token), 400, "VALIDATION_ERROR")

    def test_weak_new_password_keeps_the_token(self, api_client, user, mailoutbox):
        self.request_reset(api_client, user.email)
        uid, token = self.emailed(mailoutbox[0])
        assert_error(self.confirm(api_client, uid, token, "short"), 400, "VALIDATION_ERROR")
        assert self.confirm(api_client, uid, token).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_racing_with_one_token_get_one_new_pair(user):
    """Rotation is atomic: of concurrent refreshes with the same refresh token, exactly one succeeds."""
    import threading

    from django.db import connection
    from rest_framework.test import APIClient

    from accounts import services

    token = services.issue_tokens(user)["refresh"]
    barrier = threading.Barrier(4)
    statuses = []

    def attempt():
        try:
            barrier.wait(5)
            statuses.append(refresh(APIClient(), token).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200, 401, 401, 401]
