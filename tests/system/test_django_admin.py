"""The Django admin lists users, bots, trades, orders and transfers with search and filters, for staff only, behind a
second factor and the same login throttles and lockout as the API (accounts/admin_site.py)."""

import base64
import time

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.helpers import assert_error, client_for, start_of_fresh_totp_step

PASSWORD = "Str0ng-Passphrase!"
PAGES = [
    "/admin/accounts/user/",
    "/admin/bots/bot/",
    "/admin/trading/trade/",
    "/admin/trading/order/",
    "/admin/trading/position/",
    "/admin/wallets/transfer/",
    "/admin/accounts/auditlog/",
    "/admin/bots/strategysignal/",
    "/admin/market/instrument/",
]


def code_of(device):
    return f"{totp(device.bin_key, drift=device.drift):06d}"


def admin_login(client, email, password, otp_token="", address="198.51.100.20"):
    """POST the admin's login form, as the bundled nginx would pass it on (from 127.0.0.1, the client's address
    appended to X-Forwarded-For)."""
    body = {"username": email, "password": password, "otp_token": otp_token, "next": "/admin/"}
    return client.post("/admin/login/", body, HTTP_X_FORWARDED_FOR=address)


def logged_in(response):
    return response.status_code == 302 and response["Location"] == "/admin/"


def form_errors(response):
    return " ".join(str(e) for e in response.context["form"].non_field_errors())


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(email="root@example.com", password=PASSWORD)


@pytest.fixture
def device(superuser):
    superuser.two_factor_enabled = True
    superuser.save(update_fields=["two_factor_enabled"])
    return TOTPDevice.objects.create(user=superuser, name="Authenticator", confirmed=True)


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_admin_changelists(client, superuser, device, url):
    start_of_fresh_totp_step()
    assert logged_in(admin_login(client, superuser.email, PASSWORD, code_of(device)))
    response = client.get(url + "?q=example")
    assert response.status_code == 200, url


@pytest.mark.django_db
def test_admin_requires_staff(client, make_user):
    client.force_login(make_user())
    assert client.get("/admin/bots/bot/").status_code == 302


@pytest.mark.django_db
def test_two_factor_turned_on_through_the_api_guards_the_admin(client, django_user_model):
    """Before: an admin with 2FA on got into /admin/ with the password alone."""
    staff = django_user_model.objects.create_superuser(email="ops@example.com", password=PASSWORD)
    api = client_for(staff)
    secret = api.post("/api/auth/2fa/enroll").json()["secret"]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    start_of_fresh_totp_step()
    assert api.post("/api/auth/2fa/verify", {"totp_code": f"{totp(key):06d}"}, format="json").status_code == 200

    page = client.get("/admin/login/")
    assert page.status_code == 200 and b'name="otp_token"' in page.content
    # The password alone: asked for the code, not let in.
    response = admin_login(client, staff.email, PASSWORD)
    assert response.status_code == 200 and "code" in form_errors(response)
    assert client.get("/admin/").status_code == 302
    # A wrong code: refused.
    response = admin_login(client, staff.email, PASSWORD, "000000")
    assert response.status_code == 200 and "not valid" in form_errors(response)
    assert client.get("/admin/accounts/user/").status_code == 302
    time.sleep(1.1)  # django-otp's delay after a wrong code

    start_of_fresh_totp_step()
    assert logged_in(admin_login(client, staff.email, PASSWORD, f"{totp(key, drift=1):06d}"))
    assert client.get("/admin/accounts/user/").status_code == 200


@pytest.mark.django_db
def test_staff_without_a_device_cannot_enter_in_production(client, superuser, settings):
    settings.DEBUG = False
    response = admin_login(client, superuser.email, PASSWORD)
    assert response.status_code == 200 and "two-factor" in form_errors(response)
    assert client.get("/admin/").status_code == 302
    # Nor does a session that some other way logged in without a verified device.
    client.force_login(superuser)
    assert client.get("/admin/accounts/user/").status_code == 302


@pytest.mark.django_db
def test_with_debug_staff_without_2fa_may_use_the_password(client, superuser, settings):
    settings.DEBUG = True
    assert logged_in(admin_login(client, superuser.email, PASSWORD))
    assert client.get("/admin/accounts/user/").status_code == 200


@pytest.mark.django_db
def test_admin_login_is_throttled_and_locked_like_the_api(client, superuser, device, api_client):
    """Before: /admin/login/ took 40 wrong passwords in a row and then the right one."""
    attacker = "203.0.113.66"
    responses = [admin_login(client, superuser.email, f"guess-{n}", address=attacker) for n in range(40)]
    assert all(r.status_code == 200 for r in responses)
    errors = [form_errors(r) for r in responses]
    assert all("correct email and password" in e for e in errors[:5]), errors[:6]
    assert all("Try again in" in e for e in errors[5:]), errors[5:]
    # The right password (and code) from that address is refused as well: locked out, then throttled.
    start_of_fresh_totp_step()
    response = admin_login(client, superuser.email, PASSWORD, code_of(device), address=attacker)
    assert response.status_code == 200 and "Try again in" in form_errors(response)
    assert client.get("/admin/").status_code == 302
    # The admin's failures count where the API's do: the same address is locked out of the API login too.
    r = api_client.post(
        "/api/auth/login",
        {"email": superuser.email, "password": PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR=attacker,
    )
    assert_error(r, 429, "RATE_LIMIT")

    # The owner, from another address, gets in at once.
    owner = Client()
    assert logged_in(admin_login(owner, superuser.email, PASSWORD, code_of(device), address="198.51.100.21"))
    assert owner.get("/admin/accounts/user/").status_code == 200


@pytest.mark.django_db
def test_api_failures_lock_the_admin_login_from_that_address(client, superuser, device, api_client, settings):
    settings.LOGIN_LOCKOUT_THRESHOLD = 3
    attacker = "203.0.113.67"
    for _ in range(3):
        api_client.post(
            "/api/auth/login",
            {"email": superuser.email, "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=attacker,
        )
    response = admin_login(client, superuser.email, PASSWORD, address=attacker)
    assert response.status_code == 200 and "Try again in" in form_errors(response)


@pytest.mark.django_db
def test_the_admin_and_the_api_share_the_per_address_throttle(client, api_client, make_user):
    for n in range(30):  # THROTTLE_AUTH_IP's default, 30/min, each for another account (so no lockout)
        admin_login(client, f"nobody{n}@example.com", "guess", address="203.0.113.68")
    r = api_client.post(
        "/api/auth/login",
        {"email": "x@example.com", "password": "guess"},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.68",
    )
    assert_error(r, 429, "RATE_LIMIT")
