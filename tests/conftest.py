"""Shared fixtures. Every test talks to the real stack: DRF's APIClient over the full middleware chain."""

import itertools
import os
import sys
import threading
import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.helpers import client_for

_counter = itertools.count()
_exit_status = {"value": 1}


def pytest_sessionfinish(session, exitstatus):
    _exit_status["value"] = int(exitstatus)


def pytest_unconfigure(config):
    """A safety net for CI: if a thread a test left behind (say, an event loop stuck shutting down) keeps the
    interpreter from exiting, end the process with pytest's own exit status after a grace period instead of hanging
    the run until it is killed. A normal exit ends this daemon thread long before it fires."""

    grace = int(os.environ.get("PYTEST_EXIT_GRACE", "60"))

    def watchdog():
        time.sleep(grace)
        alive = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
        print(
            f"\npytest finished but threads {alive} kept the process alive for {grace}s: exiting",
            file=sys.__stderr__,
            flush=True,
        )
        os._exit(_exit_status["value"])

    threading.Thread(target=watchdog, name="exit-watchdog", daemon=True).start()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttles and cached health checks live in the cache: start every test from a clean one."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def make_user(db):
    from accounts.models import User

    def factory(email=None, password="S3cure-pass-123", **extra):
        email = email or f"user{next(_counter)}@example.com"
        extra.setdefault("first_name", "Test")
        user = User.objects.create_user(email=email, password=password, **extra)
        user.raw_password = password
        return user

    return factory


@pytest.fixture
def user(make_user):
    return make_user(first_name="John")


@pytest.fixture
def other_user(make_user):
    return make_user(first_name="Mallory")


@pytest.fixture
def auth_client(user):
    return client_for(user)


@pytest.fixture
def other_client(other_user):
    return client_for(other_user)


@pytest.fixture
def admin_user(make_user):
    return make_user(first_name="Ada", is_admin=True, is_staff=True)


@pytest.fixture
def admin_client(admin_user):
    return client_for(admin_user)
