"""Helpers for tests: import them with `from tests.helpers import ...`."""

from rest_framework.test import APIClient


def client_for(user):
    """An APIClient authenticated with a real JWT for ``user``."""
    from accounts.services import issue_tokens

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + issue_tokens(user)["token"])
    return client


def assert_error(response, status, code):
    """The contract's error schema, exactly."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    body = response.json()
    assert body["success"] is False
    assert body["error_code"] == code
    assert isinstance(body["error"], str) and body["error"]
    assert body["timestamp"].endswith("Z")
    assert set(body) <= {"success", "error", "error_code", "timestamp", "details"}
    return body


def start_of_fresh_totp_step(seconds_left=8, step=30):
    """Sleep, if need be, until at least ``seconds_left`` seconds remain in the current TOTP time step.

    A test that computes a code and has the server check it must not straddle a step boundary: the server would then
    match the code one step back and record a drift of -1 (django-otp's OTP_TOTP_SYNC), after which "the next step's
    code" lies outside its window. Costs at most ``seconds_left`` seconds, usually nothing.
    """
    import time

    left = step - (time.time() % step)
    if left < seconds_left:
        time.sleep(left + 0.05)
