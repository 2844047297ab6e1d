"""Failed logins slow the attacker down without locking the owner out (accounts/lockout.py).

Requests come as the bundled nginx sends them: from 127.0.0.1 (a trusted proxy) with the client's own address at the
end of X-Forwarded-For, so everything here is keyed on the address amarktai.utils.client_ip takes from there."""

import time
from types import SimpleNamespace

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import lockout
from tests.helpers import assert_error, start_of_fresh_totp_step

PASSWORD = "Str0ng-Passphrase!"
VICTIM = "victim@example.com"
OWNER_ADDRESS = "198.51.100.7"


def login(api_client, email, password, address, totp_code=None):
    body = {"email": email, "password": password}
    if totp_code is not None:
        body["totp_code"] = totp_code
    return api_client.post("/api/auth/login", body, format="json", HTTP_X_FORWARDED_FOR=address)


def attacker(n):
    return f"203.0.113.{n}"


def current_code(device, drift=0):
    return f"{totp(device.bin_key, drift=drift):06d}"


@pytest.fixture
def clock(monkeypatch):
    """Move the lockout's clock forward: ``clock(seconds)``."""
    offset = {"seconds": 0.0}
    monkeypatch.setattr(lockout, "time", SimpleNamespace(time=lambda: time.time() + offset["seconds"]))

    def advance(seconds):
        offset["seconds"] += seconds

    return advance


@pytest.fixture
def two_factor_victim(make_user):
    user = make_user(email=VICTIM, password=PASSWORD, two_factor_enabled=True)
    return TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)


@pytest.mark.django_db
def test_lockout_grows_and_blocks_even_the_right_password_from_that_address(api_client, make_user, settings, clock):
    settings.LOGIN_LOCKOUT_THRESHOLD = 3
    make_user(email="target@example.com", password=PASSWORD)
    here = attacker(1)
    for _ in range(3):
        assert_error(login(api_client, "target@example.com", "nope", here), 401, "AUTH_INVALID")
    # The third failure reached the threshold: this address is locked out of the account for 30 s.
    r = login(api_client, "target@example.com", PASSWORD, here)
    body = assert_error(r, 429, "RATE_LIMIT")
    assert "Try again in" in body["error"] and body["details"] == {"two_factor_required": True}
    assert 25 <= int(r["Retry-After"]) <= 31

    # After the lock expires one more failure locks for twice as long.
    clock(31)
    assert_error(login(api_client, "target@example.com", "nope", here), 401, "AUTH_INVALID")
    r = login(api_client, "target@example.com", PASSWORD, here)
    assert_error(r, 429, "RATE_LIMIT")
    assert 55 <= int(r["Retry-After"]) <= 61

    # Once the lock has passed, the right password works and clears the counter.
    clock(61)
    assert login(api_client, "target@example.com", PASSWORD, here).status_code == 200
    assert_error(login(api_client, "target@example.com", "nope", here), 401, "AUTH_INVALID")
    assert login(api_client, "target@example.com", PASSWORD, here).status_code == 200


@pytest.mark.django_db
def test_lockout_is_per_account(api_client, make_user, settings):
    settings.LOGIN_LOCKOUT_THRESHOLD = 2
    make_user(email="a@example.com", password=PASSWORD)
    make_user(email="b@example.com", password=PASSWORD)
    for _ in range(2):
        login(api_client, "a@example.com", "x", attacker(1))
    assert_error(login(api_client, "a@example.com", PASSWORD, attacker(1)), 429, "RATE_LIMIT")
    assert login(api_client, "b@example.com", PASSWORD, attacker(1)).status_code == 200


@pytest.mark.django_db
def test_an_attacker_locks_out_only_their_own_address(api_client, make_user, clock):
    """Before: five wrong passwords from anywhere locked the account for everybody, and each later one doubled the lock
    and renewed a 24-hour window."""
    make_user(email=VICTIM, password=PASSWORD)
    for _ in range(6):
        login(api_client, VICTIM, "guess", attacker(1))
    assert_error(login(api_client, VICTIM, PASSWORD, attacker(1)), 429, "RATE_LIMIT")
    # The owner, elsewhere, signs in at once.
    assert login(api_client, VICTIM, PASSWORD, OWNER_ADDRESS).status_code == 200
    # One failure an hour from the same address keeps only that address out; the owner is never refused.
    for hour in range(30):
        clock(3600)
        login(api_client, VICTIM, "guess", attacker(1))
        assert login(api_client, VICTIM, PASSWORD, f"192.0.2.{hour + 10}").status_code == 200


@pytest.mark.django_db
def test_a_trickle_of_failures_never_holds_the_account(api_client, make_user, clock):
    """A failure an hour, each from a fresh address, stays under the per-account ceiling (its window is fixed, not
    renewed), so even an address the account has never used signs in without a second factor."""
    make_user(email=VICTIM, password=PASSWORD)
    for hour in range(48):
        login(api_client, VICTIM, "guess", attacker(hour % 250 + 1))
        clock(3600)
    assert login(api_client, VICTIM, PASSWORD, "192.0.2.99").status_code == 200


@pytest.mark.django_db
def test_the_per_account_throttle_cannot_be_spent_by_someone_else(api_client, make_user):
    """THROTTLE_AUTH_ACCOUNT (10/min) counted one account from every address: anyone could spend it every minute and
    keep the owner out. It now counts an account from one address."""
    make_user(email=VICTIM, password=PASSWORD)
    responses = [login(api_client, VICTIM, "guess", attacker(1)) for _ in range(12)]
    assert responses[-1].status_code == 429
    assert login(api_client, VICTIM, PASSWORD, OWNER_ADDRESS).status_code == 200


@pytest.mark.django_db
def test_an_account_under_attack_from_many_addresses(api_client, make_user, settings, clock):
    """Past the per-account ceiling nobody is locked out: addresses the owner has used carry on; a new address needs a
    two-factor code (or waits for the window, fixed from the first failure, to end)."""
    settings.LOGIN_LOCKOUT_ACCOUNT_CEILING = 20
    settings.LOGIN_LOCKOUT_ACCOUNT_WINDOW = 3600
    make_user(email=VICTIM, password=PASSWORD)
    assert login(api_client, VICTIM, PASSWORD, OWNER_ADDRESS).status_code == 200  # an address the owner uses
    for n in range(20):
        assert_error(login(api_client, VICTIM, "guess", attacker(n + 1)), 401, "AUTH_INVALID")
        clock(60)
    # A new address, even with the right password, is refused, like the attackers' next guesses: no password oracle.
    right = login(api_client, VICTIM, PASSWORD, "192.0.2.1")
    wrong = login(api_client, VICTIM, "guess", "192.0.2.2")
    for r in (right, wrong):
        body = assert_error(r, 429, "RATE_LIMIT")
        assert body["details"] == {"two_factor_required": True}
        assert 0 < int(r["Retry-After"]) <= 3600 - 20 * 60 + 1
    assert right.json()["error"] == wrong.json()["error"]
    # The owner's own address signs in as usual.
    assert login(api_client, VICTIM, PASSWORD, OWNER_ADDRESS).status_code == 200
    # The window does not grow with the attack: it ends an hour after the first failure.
    clock(3600 - 20 * 60 + 1)
    assert login(api_client, VICTIM, PASSWORD, "192.0.2.1").status_code == 200


@pytest.mark.django_db
def test_right_password_and_code_pass_whatever_others_did(api_client, two_factor_victim, settings):
    """The owner with 2FA behind the attacker's own address (a shared NAT, say): locked, yet a correct password with a
    valid code goes through; anything less gets the same refusal whatever the password, and a stranger's wrong codes
    do not add to the device's own throttle."""
    settings.LOGIN_LOCKOUT_THRESHOLD = 3
    shared = attacker(9)
    for _ in range(3):
        login(api_client, VICTIM, "guess", shared)
    refusals = [
        login(api_client, VICTIM, "guess", shared),
        login(api_client, VICTIM, PASSWORD, shared),
        login(api_client, VICTIM, PASSWORD, shared, totp_code="000000"),
        login(api_client, VICTIM, "guess", shared, totp_code="000000"),
    ]
    bodies = [assert_error(r, 429, "RATE_LIMIT") for r in refusals]
    assert len({(b["error"], str(b["details"])) for b in bodies}) == 1
    two_factor_victim.refresh_from_db()
    assert two_factor_victim.throttling_failure_count == 0

    start_of_fresh_totp_step()
    code = current_code(two_factor_victim)
    # A valid code with a wrong password: still refused.
    assert_error(login(api_client, VICTIM, "guess", shared, totp_code=code), 429, "RATE_LIMIT")
    ok = login(api_client, VICTIM, PASSWORD, shared, totp_code=code)
    assert ok.status_code == 200, ok.content
    assert ok.json()["user"]["email"] == VICTIM
    # The code cannot be used twice, locked or not.
    for _ in range(3):
        login(api_client, VICTIM, "guess", attacker(10))
    assert_error(login(api_client, VICTIM, PASSWORD, attacker(10), totp_code=code), 429, "RATE_LIMIT")


@pytest.mark.django_db
def test_two_factor_owner_passes_an_account_wide_attack_from_a_new_address(api_client, two_factor_victim, settings):
    settings.LOGIN_LOCKOUT_ACCOUNT_CEILING = 5
    for n in range(5):
        login(api_client, VICTIM, "guess", attacker(n + 1))
    new_address = "192.0.2.50"
    assert_error(login(api_client, VICTIM, PASSWORD, new_address), 429, "RATE_LIMIT")
    start_of_fresh_totp_step()
    ok = login(api_client, VICTIM, PASSWORD, new_address, totp_code=current_code(two_factor_victim))
    assert ok.status_code == 200, ok.content


@pytest.mark.django_db
def test_ipv6_clients_count_as_their_64(api_client, make_user, settings):
    """One IPv6 subscriber holds a /64: stepping through its addresses is still the same client."""
    settings.LOGIN_LOCKOUT_THRESHOLD = 3
    make_user(email=VICTIM, password=PASSWORD)
    for n in range(3):
        login(api_client, VICTIM, "guess", f"2001:db8:1:2::{n + 1:x}")
    assert_error(login(api_client, VICTIM, PASSWORD, "2001:db8:1:2:ffff::1"), 429, "RATE_LIMIT")
    assert login(api_client, VICTIM, PASSWORD, "2001:db8:1:3::1").status_code == 200


@pytest.mark.django_db
def test_unknown_and_existing_accounts_are_refused_alike(api_client, make_user, settings):
    settings.LOGIN_LOCKOUT_THRESHOLD = 2
    make_user(email=VICTIM, password=PASSWORD)
    for email in (VICTIM, "nobody@example.com"):
        for _ in range(2):
            assert_error(login(api_client, email, "guess", attacker(3)), 401, "AUTH_INVALID")
    bodies = [
        assert_error(login(api_client, e, "x", attacker(3)), 429, "RATE_LIMIT") for e in (VICTIM, "nobody@example.com")
    ]
    assert bodies[0]["error"] == bodies[1]["error"]


@pytest.mark.django_db
def test_the_owner_is_told_once_when_the_account_comes_under_attack(api_client, make_user, settings, mailoutbox):
    settings.LOGIN_LOCKOUT_ACCOUNT_CEILING = 5
    make_user(email=VICTIM, password=PASSWORD)
    for n in range(12):
        login(api_client, VICTIM, "Tr0ub4dor&3", attacker(n + 1))
        login(api_client, "nobody@example.com", "Tr0ub4dor&3", attacker(n + 1))
    assert [m.to for m in mailoutbox] == [[VICTIM]]
    assert "failed sign-ins" in mailoutbox[0].body and "two-factor" in mailoutbox[0].body
    assert "Tr0ub4dor&3" not in mailoutbox[0].body and "203.0.113." not in mailoutbox[0].body
