"""A platform's extra credential fields (a broker's client code, TOTP secret, gateway URL...) through POST /api/keys:
checked against the platform, stored encrypted, secret ones never returned, testnet refused where not offered."""

import dataclasses

import pytest
from django.db import connection

from tests.helpers import assert_error
from trading import platforms
from trading.platforms import CredentialField
from wallets.models import ExchangeCredential

pytestmark = pytest.mark.django_db

TOTP = "JBSWY3DPEHPK3PXPNEVERSHOWN"


@pytest.fixture
def broker(monkeypatch):
    """A platform with extra fields, added to the catalogue for the test (ccxt adapter: nothing is called)."""
    platform = dataclasses.replace(
        platforms.PLATFORMS["luno"],
        id="testbroker",
        name="Test Broker",
        kind="stock",
        secret_required=False,
        fields=(
            CredentialField("client_code", "Client code", secret=False),
            CredentialField("totp_secret", "TOTP secret"),
            CredentialField("host_url", "Gateway URL", secret=False, kind="url", required=False),
            CredentialField(
                "environment",
                "Environment",
                secret=False,
                kind="choice",
                choices=("paper", "live"),
                required=False,
                default="paper",
            ),
        ),
    )
    monkeypatch.setitem(platforms.PLATFORMS, "testbroker", platform)
    return platform


def test_extra_fields_are_stored_encrypted_and_only_settings_come_back(auth_client, broker):
    resp = auth_client.post(
        "/api/keys",
        {"provider": "testbroker", "api_key": "KEY-00001234", "client_code": "AB123", "extra": {"totp_secret": TOTP}},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    key = resp.json()["key"]
    assert key["settings"] == {"client_code": "AB123", "environment": "paper"}
    assert TOTP not in resp.content.decode()
    stored = ExchangeCredential.objects.get(pk=key["id"])
    assert stored.extras == {"client_code": "AB123", "totp_secret": TOTP, "environment": "paper"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT extras_enc FROM wallets_exchangecredential")
        (raw,) = cursor.fetchone()
    assert TOTP not in raw and "AB123" not in raw
    listed = auth_client.get("/api/keys").content.decode()
    assert TOTP not in listed and "AB123" in listed


def test_providers_list_the_fields(auth_client, broker):
    providers = {p["id"]: p for p in auth_client.get("/api/providers").json()["providers"]}
    entry = providers["testbroker"]
    assert entry["type"] == "broker"
    assert entry["required_fields"] == ["api_key", "client_code", "totp_secret"]
    assert [f["name"] for f in entry["fields"]] == ["client_code", "totp_secret", "host_url", "environment"]
    assert providers["binance"]["fields"] == [] and providers["binance"]["type"] == "exchange"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"totp_secret": TOTP}, "client_code"),
        ({"client_code": "A", "totp_secret": TOTP, "nickname": "x"}, "nickname"),
        ({"client_code": "A", "totp_secret": TOTP, "host_url": "file:///etc/passwd"}, "host_url"),
        ({"client_code": "A", "totp_secret": TOTP, "environment": "prod"}, "environment"),
    ],
)
def test_bad_extra_fields_are_refused_and_nothing_is_stored(auth_client, broker, extra, field):
    resp = auth_client.post("/api/keys", {"provider": "testbroker", "api_key": "KEY-1", "extra": extra}, format="json")
    body = assert_error(resp, 400, "VALIDATION_ERROR")
    assert field in body["details"]
    assert TOTP not in resp.content.decode()
    assert not ExchangeCredential.objects.exists()


def test_a_secret_is_still_required_where_the_platform_needs_one(auth_client):
    resp = auth_client.post("/api/keys", {"provider": "binance", "api_key": "KEY-1"}, format="json")
    assert "api_secret" in assert_error(resp, 400, "VALIDATION_ERROR")["details"]


def test_testnet_is_refused_where_the_platform_has_none(auth_client, broker):
    resp = auth_client.post(
        "/api/keys",
        {"provider": "testbroker", "api_key": "K", "client_code": "A", "totp_secret": TOTP, "testnet": True},
        format="json",
    )
    assert "testnet" in assert_error(resp, 400, "VALIDATION_ERROR")["details"]
    assert not ExchangeCredential.objects.exists()


def test_updating_extras_keeps_the_others_and_clears_the_check(auth_client, broker):
    key = auth_client.post(
        "/api/keys",
        {"provider": "testbroker", "api_key": "KEY-00001234", "client_code": "A", "totp_secret": TOTP},
        format="json",
    ).json()["key"]
    ExchangeCredential.objects.filter(pk=key["id"]).update(keys_valid=True)
    resp = auth_client.patch(f"/api/keys/{key['id']}", {"client_code": "B"}, format="json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["key"]["settings"]["client_code"] == "B" and resp.json()["key"]["keys_valid"] is None
    assert ExchangeCredential.objects.get(pk=key["id"]).extras["totp_secret"] == TOTP
