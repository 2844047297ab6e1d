"""The portal's cookie flow (accounts/cookies.py): the refresh token in an HttpOnly SameSite=Strict cookie, CSRF on the
cookie path, rotation and blacklisting as for body tokens, a grace for concurrent tabs; bearer clients as before."""

import threading

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts import services
from accounts.cookies import COOKIE_PATH, REFRESH_COOKIE
from tests.helpers import assert_error

PASSWORD = "S3cure-pass-123"  # the make_user fixture's default
COOKIE = {"HTTP_X_SESSION_MODE": "cookie"}


def browser():
    """A client that enforces CSRF like a real request (Django's test client skips the check by default)."""
    return APIClient(enforce_csrf_checks=True)


def cookie_login(client, user, **extra):
    r = client.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json", **COOKIE, **extra)
    assert r.status_code == 200, r.content
    return r


def csrf(client):
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def cookie_refresh(client, **extra):
    return client.post("/api/auth/refresh", {}, format="json", **extra)


def me(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/auth/me")


@pytest.mark.django_db
class TestCookieLogin:
    def test_login_sets_an_httponly_strict_cookie_and_keeps_the_refresh_token_out_of_the_body(self, user):
        client = browser()
        r = cookie_login(client, user)
        body = r.json()
        assert body["token"] and "refresh" not in body and body["user"]["email"] == user.email
        cookie = r.cookies[REFRESH_COOKIE]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Strict"
        assert cookie["path"] == COOKIE_PATH
        assert 6 * 86400 < int(cookie["max-age"]) <= 7 * 86400
        assert cookie.value.count(".") == 2  # a JWT
        assert r.cookies["csrftoken"].value and not r.cookies["csrftoken"]["httponly"]  # script reads it
        assert me(body["token"]).status_code == 200

    @override_settings(SESSION_COOKIE_SECURE=True)
    def test_secure_in_production(self, user):
        assert cookie_login(browser(), user).cookies[REFRESH_COOKIE]["secure"] is True

    @override_settings(SESSION_COOKIE_SECURE=False)
    def test_not_secure_only_on_plain_http_with_secure_cookies_off(self, user):
        """make run (DEBUG, http://127.0.0.1): a Secure cookie would not be stored, so it is left off; an https
        request still gets it."""
        assert not cookie_login(browser(), user).cookies[REFRESH_COOKIE]["secure"]
        assert cookie_login(browser(), user, secure=True).cookies[REFRESH_COOKIE]["secure"] is True

    def test_register_uses_the_cookie_too(self, db):
        client = browser()
        body = {"email": "new.cookie@example.com", "password": PASSWORD, "first_name": "Cookie"}
        r = client.post("/api/auth/register", body, format="json", **COOKIE)
        assert r.status_code == 200, r.content
        assert "refresh" not in r.json() and r.cookies[REFRESH_COOKIE].value
        assert cookie_refresh(client, **csrf(client)).status_code == 200


@pytest.mark.django_db
class TestCookieRefresh:
    def test_refresh_rotates_the_cookie(self, user):
        client = browser()
        first = cookie_login(client, user).cookies[REFRESH_COOKIE].value
        r = cookie_refresh(client, **csrf(client))
        assert r.status_code == 200, r.content
        body = r.json()
        assert body["token"] == body["access"] and "refresh" not in body
        second = r.cookies[REFRESH_COOKIE].value
        assert second != first and r.cookies[REFRESH_COOKIE]["httponly"]
        assert me(body["token"]).status_code == 200
        # The cookie it replaced is spent: as a body token (no grace) it is refused.
        assert_error(APIClient().post("/api/auth/refresh", {"refresh": first}, format="json"), 401, "AUTH_INVALID")
        # The new cookie goes on working.
        assert cookie_refresh(client, **csrf(client)).status_code == 200

    def test_without_the_csrf_header_the_cookie_is_refused(self, user):
        client = browser()
        cookie_login(client, user)
        body = assert_error(cookie_refresh(client), 403, "CSRF_FAILED")
        assert "X-CSRFToken" in body["error"]
        assert_error(cookie_refresh(client, HTTP_X_CSRFTOKEN="x" * 32), 403, "CSRF_FAILED")
        # Refused requests spent nothing: the right header still works.
        assert cookie_refresh(client, **csrf(client)).status_code == 200

    def test_another_origin_is_refused_over_https(self, user):
        client = browser()
        cookie_login(client, user, secure=True)
        other = {"HTTP_ORIGIN": "https://evil.example", "secure": True}
        assert_error(cookie_refresh(client, **csrf(client), **other), 403, "CSRF_FAILED")
        same = {"HTTP_ORIGIN": "https://testserver", "secure": True}
        assert cookie_refresh(client, **csrf(client), **same).status_code == 200

    def test_neither_body_nor_cookie_is_the_contracts_400(self, db):
        body = assert_error(browser().post("/api/auth/refresh", {}, format="json"), 400, "VALIDATION_ERROR")
        assert "refresh" in body["details"]

    def test_a_dead_cookie_is_cleared(self, user):
        client = browser()
        cookie_login(client, user)
        client.cookies[REFRESH_COOKIE] = "not-a-token"
        r = cookie_refresh(client, **csrf(client))
        assert_error(r, 401, "AUTH_INVALID")
        assert r.cookies[REFRESH_COOKIE].value == "" and int(r.cookies[REFRESH_COOKIE]["max-age"]) == 0

    def test_a_rotated_cookie_sent_again_within_the_grace_gets_the_same_successor(self, user):
        """Two tabs refreshing one after the other with the same cookie (the second sent before the first's answer
        replaced it) both carry on, with the same new pair."""
        client = browser()
        old = cookie_login(client, user).cookies[REFRESH_COOKIE].value
        header = csrf(client)
        first = cookie_refresh(client, **header)
        successor = first.cookies[REFRESH_COOKIE].value  # (the client's jar shares the response's morsels)
        client.cookies[REFRESH_COOKIE] = old  # the other tab's request still carried the old cookie
        second = cookie_refresh(client, **header)
        assert second.status_code == 200, second.content
        assert second.json()["token"] == first.json()["token"]
        assert second.cookies[REFRESH_COOKIE].value == successor

    @override_settings(AUTH_REFRESH_GRACE_SECONDS=0)
    def test_without_grace_a_rotated_cookie_is_refused(self, user):
        client = browser()
        old = cookie_login(client, user).cookies[REFRESH_COOKIE].value
        assert cookie_refresh(client, **csrf(client)).status_code == 200
        client.cookies[REFRESH_COOKIE] = old
        assert_error(cookie_refresh(client, **csrf(client)), 401, "AUTH_INVALID")

    def test_grace_ends_with_the_session(self, user):
        """A logout after the rotation: the rotated cookie's successor is spent, so the grace gives nothing."""
        client = browser()
        old = cookie_login(client, user).cookies[REFRESH_COOKIE].value
        assert cookie_refresh(client, **csrf(client)).status_code == 200
        assert client.post("/api/auth/logout", {}, format="json", **csrf(client)).status_code == 200
        client.cookies[REFRESH_COOKIE] = old
        assert_error(cookie_refresh(client, **csrf(client)), 401, "AUTH_INVALID")

    def test_grace_follows_a_second_rotation(self, user):
        client = browser()
        old = cookie_login(client, user).cookies[REFRESH_COOKIE].value
        assert cookie_refresh(client, **csrf(client)).status_code == 200
        latest = cookie_refresh(client, **csrf(client))
        client.cookies[REFRESH_COOKIE] = old
        again = cookie_refresh(client, **csrf(client))
        assert again.status_code == 200 and again.json()["token"] == latest.json()["token"]

    def test_body_tokens_get_no_grace(self, user):
        """Bearer clients: a refresh token works exactly once, as before."""
        client = APIClient()
        raw = services.issue_tokens(user)["refresh"]
        assert client.post("/api/auth/refresh", {"refresh": raw}, format="json").status_code == 200
        assert_error(client.post("/api/auth/refresh", {"refresh": raw}, format="json"), 401, "AUTH_INVALID")


@pytest.mark.django_db
class TestBearerClientsUnchanged:
    def test_login_and_refresh_answer_the_pair_in_the_body_and_set_no_cookie(self, user):
        client = APIClient(enforce_csrf_checks=True)
        r = client.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
        assert r.status_code == 200
        assert {"token", "refresh", "user"} <= set(r.json()) and REFRESH_COOKIE not in r.cookies
        r = client.post("/api/auth/refresh", {"refresh": r.json()["refresh"]}, format="json")
        assert r.status_code == 200
        assert {"token", "access", "refresh"} <= set(r.json()) and REFRESH_COOKIE not in r.cookies
        r = client.post("/api/auth/logout", {"refresh": r.json()["refresh"]}, format="json")
        assert r.json() == {"success": True, "message": "Logged out"}

    def test_a_body_token_needs_no_csrf_even_beside_a_cookie(self, user):
        client = browser()
        cookie_login(client, user)
        raw = services.issue_tokens(user)["refresh"]
        r = client.post("/api/auth/refresh", {"refresh": raw}, format="json")  # no X-CSRFToken
        assert r.status_code == 200 and r.json()["refresh"]

    def test_a_body_token_can_be_moved_into_the_cookie(self, user):
        """A page that still holds a refresh token (an older portal) hands it over: it is rotated into the cookie."""
        client = browser()
        raw = services.issue_tokens(user)["refresh"]
        r = client.post("/api/auth/refresh", {"refresh": raw}, format="json", **COOKIE)
        assert r.status_code == 200 and "refresh" not in r.json()
        assert r.cookies[REFRESH_COOKIE].value and r.cookies["csrftoken"].value
        assert cookie_refresh(client, **csrf(client)).status_code == 200


@pytest.mark.django_db
class TestCookieEnds:
    def cleared(self, response):
        return response.cookies[REFRESH_COOKIE].value == "" and int(response.cookies[REFRESH_COOKIE]["max-age"]) == 0

    def test_logout_by_cookie_ends_the_session_and_clears_the_cookie(self, user):
        client = browser()
        token = cookie_login(client, user).json()["token"]
        spent = client.cookies[REFRESH_COOKIE].value
        assert_error(client.post("/api/auth/logout", {}, format="json"), 403, "CSRF_FAILED")
        r = client.post("/api/auth/logout", {}, format="json", **csrf(client))
        assert r.json() == {"success": True, "message": "Logged out"} and self.cleared(r)
        assert_error(me(token), 401, "AUTH_INVALID")
        assert_error(APIClient().post("/api/auth/refresh", {"refresh": spent}, format="json"), 401, "AUTH_INVALID")
        # No cookie left: the next refresh (another tab's) has nothing to send.
        assert_error(cookie_refresh(client, **csrf(client)), 400, "VALIDATION_ERROR")

    def test_logout_racing_a_refresh_still_ends_the_session(self, user):
        """A tab logs out with the cookie another tab's refresh has just rotated: the successor that refresh got (and
        whose cookie may land after the logout's) is spent as well, and the session's access tokens are refused."""
        client = browser()
        old = cookie_login(client, user).cookies[REFRESH_COOKIE].value
        rotated = cookie_refresh(client, **csrf(client))
        successor, access = rotated.cookies[REFRESH_COOKIE].value, rotated.json()["token"]
        client.cookies[REFRESH_COOKIE] = old  # the logging-out tab still sent the old cookie
        r = client.post("/api/auth/logout", {}, format="json", **csrf(client))
        assert r.status_code == 200 and self.cleared(r)
        assert_error(me(access), 401, "AUTH_INVALID")
        client.cookies[REFRESH_COOKIE] = successor  # the refresh's answer arrived last and set its cookie
        assert_error(cookie_refresh(client, **csrf(client)), 401, "AUTH_INVALID")
        assert_error(APIClient().post("/api/auth/refresh", {"refresh": successor}, format="json"), 401, "AUTH_INVALID")

    def test_logout_with_a_dead_cookie_still_clears_it(self, user):
        client = browser()
        cookie_login(client, user)
        client.cookies[REFRESH_COOKIE] = "expired-or-forged"
        r = client.post("/api/auth/logout", {}, format="json", **csrf(client))
        assert r.status_code == 200 and self.cleared(r)

    def test_logout_everywhere_clears_the_cookie_and_spends_it(self, user):
        client = browser()
        token = cookie_login(client, user).json()["token"]
        spent = client.cookies[REFRESH_COOKIE].value
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        r = client.post("/api/auth/logout-everywhere")
        assert r.status_code == 200 and self.cleared(r)
        client.credentials()
        client.cookies[REFRESH_COOKIE] = spent
        assert_error(cookie_refresh(client, **csrf(client)), 401, "AUTH_INVALID")

    def test_password_change_replaces_the_cookie(self, user):
        client = browser()
        token = cookie_login(client, user).json()["token"]
        old = client.cookies[REFRESH_COOKIE].value
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        body = {"old_password": PASSWORD, "new_password": "Brand-new-Passphrase-42"}
        r = client.post("/api/auth/password/change", body, format="json", **COOKIE)
        assert r.status_code == 200 and "refresh" not in r.json() and r.json()["token"]
        new = r.cookies[REFRESH_COOKIE].value
        assert new and new != old
        client.credentials()
        assert cookie_refresh(client, **csrf(client)).status_code == 200
        client.cookies[REFRESH_COOKIE] = old
        assert_error(cookie_refresh(client, **csrf(client)), 401, "AUTH_INVALID")

    def test_bearer_password_change_clears_the_cookie(self, user):
        client = browser()
        token = cookie_login(client, user).json()["token"]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        body = {"old_password": PASSWORD, "new_password": "Brand-new-Passphrase-42"}
        r = client.post("/api/auth/password/change", body, format="json")
        assert r.status_code == 200 and r.json()["refresh"] and self.cleared(r)


@pytest.mark.django_db(transaction=True)
def test_tabs_refreshing_at_the_same_moment_all_carry_on(user):
    """Four tabs send the same cookie at once: one rotates it, the others get the same successor (not a replay
    refusal that would log them out)."""
    from django.db import connection

    login = cookie_login(browser(), user)
    raw = login.cookies[REFRESH_COOKIE].value
    token = login.cookies["csrftoken"].value
    barrier = threading.Barrier(4)
    results = []

    def tab():
        client = browser()
        client.cookies[REFRESH_COOKIE] = raw
        client.cookies["csrftoken"] = token
        try:
            barrier.wait(5)
            r = cookie_refresh(client, HTTP_X_CSRFTOKEN=token)
            cookie = r.cookies.get(REFRESH_COOKIE)
            results.append((r.status_code, r.json().get("token") or r.json(), cookie.value if cookie else None))
        finally:
            connection.close()

    threads = [threading.Thread(target=tab) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [status for status, _, _ in results] == [200] * 4, results
    assert len({access for _, access, _ in results}) == 1
    assert len({cookie for _, _, cookie in results}) == 1


@pytest.mark.django_db
def test_cookie_refreshes_are_throttled_per_session_not_per_address(user, other_user, monkeypatch):
    """Every portal page load is a refresh: two traders behind one address each get the whole budget, while body
    refreshes and cookies that are not validly signed still count per address."""
    from rest_framework.throttling import SimpleRateThrottle

    alice, bob = browser(), browser()
    cookie_login(alice, user)
    cookie_login(bob, other_user)
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "auth_ip": "3/min"})
    for _ in range(3):
        assert cookie_refresh(alice, **csrf(alice)).status_code == 200
    assert_error(cookie_refresh(alice, **csrf(alice)), 429, "RATE_LIMIT")
    for _ in range(3):
        assert cookie_refresh(bob, **csrf(bob)).status_code == 200  # same address, own session, own budget
    for _ in range(3):
        APIClient().post("/api/auth/refresh", {"refresh": "x"}, format="json")
    assert_error(APIClient().post("/api/auth/refresh", {"refresh": "x"}, format="json"), 429, "RATE_LIMIT")
    forged = browser()
    forged.cookies[REFRESH_COOKIE] = "not.a.token"
    assert_error(forged.post("/api/auth/refresh", {}, format="json"), 429, "RATE_LIMIT")  # per address: spent
