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
