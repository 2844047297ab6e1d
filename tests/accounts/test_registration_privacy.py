"""POST /api/auth/register does not tell a stranger whether an email has an account.

The contract answers a new email with tokens at once, so a fully valid request for a taken email cannot get the same
answer. What registration can do, and does: check everything else first, so any request that would not have created
an account (weak password, missing or spent invite code) gets the same answer for a taken email as for a free one, and
learning that an email is taken costs exactly what creating an account costs."""

import pytest
from django.test import override_settings

from accounts.models import InviteCode, User
from tests.helpers import assert_error

PASSWORD = "Str0ng-Passphrase!"
TAKEN, FREE = "taken@example.com", "free@example.com"


def register(api_client, email, **extra):
    body = {"email": email, "password": PASSWORD, "first_name": "Sam", **extra}
    return api_client.post("/api/auth/register", body, format="json")


def answer(response):
    body = dict(response.json())
    body.pop("timestamp", None)
    return response.status_code, body


@pytest.fixture
def taken(make_user):
    return make_user(email=TAKEN, password="An0ther-Passphrase!")


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["short", "password123", "12345678901"])
def test_a_rejected_password_says_nothing_about_the_email(api_client, taken, password):
    responses = [register(api_client, email, password=password) for email in (TAKEN, "TAKEN@example.com", FREE)]
    assert answer(responses[0]) == answer(responses[1]) == answer(responses[2])
    assert_error(responses[0], 400, "VALIDATION_ERROR")
    assert "password" in responses[0].json()["details"]
    assert User.objects.count() == 1


@pytest.mark.django_db
@override_settings(REQUIRE_INVITE_CODE=True)
@pytest.mark.parametrize("invite", [None, "NOPE", "SPENT"])
def test_without_a_valid_invite_code_the_email_is_not_revealed(api_client, taken, make_user, invite):
    InviteCode.objects.create(code="SPENT", used_by=make_user())
    extra = {} if invite is None else {"invite_code": invite}
    assert answer(register(api_client, TAKEN, **extra)) == answer(register(api_client, FREE, **extra))
    assert not User.objects.filter(email=FREE).exists()


@pytest.mark.django_db
def test_a_taken_email_is_refused_without_naming_the_reason_and_spends_no_invite(api_client, taken):
    InviteCode.objects.create(code="WELCOME")
    body = assert_error(register(api_client, TAKEN, invite_code="WELCOME"), 400, "VALIDATION_ERROR")
    said = (body["error"] + str(body["details"])).lower()
    assert "already" not in said and "exists" not in said and "registered" not in said
    assert set(body["details"]) == {"email"}
    assert InviteCode.objects.get(code="WELCOME").used_by is None
    assert User.objects.get(email=TAKEN).first_name == "Test"

    # A new email still gets the contract's answer: tokens at once (the portal signs straight in).
    ok = register(api_client, FREE, invite_code="WELCOME")
    assert ok.status_code == 200 and ok.json()["token"] and ok.json()["user"]["email"] == FREE
