"""Contract fuzzing: schemathesis generates requests for every operation in our OpenAPI schema (a bounded number of
examples each) and runs them through the real WSGI stack. No response may be a 5xx, and every error must be in the error
schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from amarktai.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

ERROR_KEYS = {"success", "error", "error_code", "timestamp"}


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Django's WSGI handler closes old connections at request start/end; inside a test transaction that would close the
    test's own connection (Django's test client disconnects the same signals)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db, make_user):
    from accounts.services import issue_tokens

    user = make_user(email="fuzz@example.com")
    return {"Authorization": "Bearer " + issue_tokens(user)["token"]}


@pytest.mark.django_db
@schema.exclude(path_regex=r"^/api/(auth/(register|login|refresh)|ai/chat)").parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_and_error_schema(case, bearer):
    response = case.call(headers=bearer)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert ERROR_KEYS <= set(body), (case.method, case.path, body)
        assert body["success"] is False and body["timestamp"].endswith("Z")


@pytest.mark.django_db
@schema.include(path_regex=r"^/api/auth/(register|login|refresh)$").parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_auth_endpoints_fuzzed_anonymously(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert ERROR_KEYS <= set(body) and body["success"] is False


@pytest.fixture
def webhook_token(db, make_user):
    """A signal bot's real webhook token, so the fuzz reaches the alert parsing (a random token is only ever 404)."""
    from bots.models import Bot
    from bots.webhooks import issue_token

    owner = make_user(email="hook-owner@example.com")
    bot = Bot.objects.create(
        user=owner,
        name="Hook",
        exchange="luno",
        symbol="BTC/ZAR",
        strategy="signal",
        initial_capital=1000,
        current_capital=1000,
    )
    return issue_token(bot)


@pytest.mark.django_db
@schema.include(path_regex=r"^/api/webhooks/").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_signal_bot_webhook_fuzzed_with_a_real_token(case, webhook_token):
    """The public write path: any body on a real token is answered in the contract (200, 400, 409, 413 or 429; 405
    for another method)."""
    case.path_parameters["token"] = webhook_token
    response = case.call()
    assert response.status_code in {200, 400, 405, 409, 413, 415, 429}, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert ERROR_KEYS <= set(body) and body["success"] is False


@pytest.fixture
def account_bearer(db, make_user):
    """A user with a paper trading account, so the fuzz reaches /api/accounts/{id}/... past the 404 (orders placed on
    it go to its own paper book, never an exchange)."""
    from accounts.services import issue_tokens
    from wallets.services.accounts import create_account

    user = make_user(email="accounts-fuzz@example.com")
    account = create_account(user, name="Fuzz paper", platform="luno", trading_mode="paper")
    return {"Authorization": "Bearer " + issue_tokens(user)["token"]}, str(account.pk)


@pytest.mark.django_db
@schema.include(path_regex=r"^/api/accounts/\{").parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_account_endpoints_fuzzed_with_a_real_account(case, account_bearer):
    headers, account_id = account_bearer
    case.path_parameters["account_id"] = account_id
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert ERROR_KEYS <= set(body), (case.method, case.path, body)
        assert body["success"] is False and body["timestamp"].endswith("Z")
