"""Stored API keys: CRUD, masking, encryption at rest, rotation, tenant isolation, and POST /api/keys/test through ccxt
against the fake Binance."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error
from wallets.models import ExchangeCredential

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-VALUE-never-shown-xyz"
PASSPHRASE = "pass-PHRASE-never-shown"


def create(client, **over):
    body = {
        "provider": "kucoin",
        "api_key": "KEY-abcdefgh1234",
        "api_secret": SECRET,
        "passphrase": PASSPHRASE,
        "label": "main",
    }
    body.update(over)
    return client.post("/api/keys", body, format="json")


def test_crud_and_masking(auth_client):
    resp = create(auth_client)
    assert resp.status_code == 201, resp.content
    key = resp.json()["key"]
    assert set(key) == {
        "id",
        "provider",
        "label",
        "api_key",
        "has_passphrase",
        "testnet",
        "settings",
        "permissions",
        "keys_valid",
        "last_checked_at",
        "created_at",
    }
    assert key["testnet"] is False and key["settings"] == {} and key["permissions"] is None
    assert key["api_key"] == "****1234" and key["provider"] == "kucoin" and key["has_passphrase"] is True
    assert key["keys_valid"] is None and key["created_at"].endswith("Z")
    # several accounts on one platform
    assert create(auth_client, label="second", api_key="KEY-zzzz9999").status_code == 201
    listing = auth_client.get("/api/keys").json()
    assert listing["success"] is True and len(listing["keys"]) == 2
    assert len(auth_client.get("/api/keys?provider=binance").json()["keys"]) == 0
    detail = auth_client.get(f"/api/keys/{key['id']}")
    assert detail.json()["key"]["label"] == "main"
    patched = auth_client.patch(
        f"/api/keys/{key['id']}", {"label": "renamed", "api_key": "NEW-key-5678"}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["key"]["label"] == "renamed" and patched.json()["key"]["api_key"] == "****5678"
    cred = ExchangeCredential.objects.get(pk=key["id"])
    assert cred.api_key == "NEW-key-5678" and cred.api_secret == SECRET and cred.passphrase == PASSPHRASE
    assert auth_client.delete(f"/api/keys/{key['id']}").json() == {"success": True, "message": "API key deleted"}
    assert_error(auth_client.get(f"/api/keys/{key['id']}"), 404, "NOT_FOUND")


def test_create_validation(auth_client):
    assert_error(create(auth_client, provider="mtgox"), 400, "VALIDATION_ERROR")
    assert_error(create(auth_client, passphrase=""), 400, "VALIDATION_ERROR")  # kucoin needs one
    assert_error(create(auth_client, api_secret=""), 400, "VALIDATION_ERROR")
    assert_error(auth_client.post("/api/keys", "nope", format="json"), 400, "VALIDATION_ERROR")
    assert_error(create(auth_client, api_key="x" * 600), 400, "VALIDATION_ERROR")
    assert ExchangeCredential.objects.count() == 0
    assert_error(create(auth_client.__class__()), 401, "AUTH_REQUIRED")


def test_tenant_isolation(auth_client, other_client):
    key_id = create(auth_client).json()["key"]["id"]
    assert other_client.get("/api/keys").json()["keys"] == []
    assert_error(other_client.get(f"/api/keys/{key_id}"), 404, "NOT_FOUND")
    assert_error(other_client.patch(f"/api/keys/{key_id}", {"label": "pwned"}, format="json"), 404, "NOT_FOUND")
    assert_error(other_client.delete(f"/api/keys/{key_id}"), 404, "NOT_FOUND")
    assert_error(other_client.post("/api/keys/test", {"credential_id": key_id}, format="json"), 404, "NOT_FOUND")
    assert ExchangeCredential.objects.get(pk=key_id).label == "main"


def test_secrets_never_leak(auth_client, caplog, binance_via_fake):
    caplog.set_level(logging.DEBUG)
    bodies = [create(auth_client).content]
    key_id = create(
        auth_client, provider="binance", api_key=DEFAULT_KEY, api_secret=DEFAULT_SECRET, passphrase=""
    ).json()["key"]["id"]
    bodies.append(auth_client.get("/api/keys").content)
    bodies.append(auth_client.post("/api/keys/test", {"credential_id": key_id}, format="json").content)
    bodies.append(
        auth_client.post(
            "/api/keys/test",
            {"provider": "binance", "api_key": DEFAULT_KEY, "api_secret": "wrong-" + SECRET},
            format="json",
        ).content
    )
    bodies.append(auth_client.get("/api/platforms/health").content)
    bodies.append(auth_client.get(f"/api/keys/{key_id}").content)
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_enc, api_secret_enc, passphrase_enc FROM wallets_exchangecredential")
        raw_rows = [" ".join(map(str, row)) for row in cursor.fetchall()]
    assert len(raw_rows) == 2
    logs = caplog.text + " ".join(repr(r.args) for r in caplog.records)
    for secret in (SECRET, PASSPHRASE, "KEY-abcdefgh1234", DEFAULT_SECRET, DEFAULT_KEY):
        for body in bodies:
            assert secret.encode() not in body
        for raw in raw_rows:
            assert secret not in raw
        assert secret not in logs
    assert all(raw.startswith("gAAAA") for raw in raw_rows)  # Fernet tokens
    assert SECRET not in repr(ExchangeCredential.objects.first()) and SECRET not in str(
        ExchangeCredential.objects.first()
    )


def test_key_rotation(auth_client, settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    key_id = create(auth_client).json()["key"]["id"]
    before = ExchangeCredential.objects.get(pk=key_id).api_secret_enc
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert ExchangeCredential.objects.get(pk=key_id).api_secret == SECRET  # old key still decrypts
    call_command("rotate_field_keys", stdout=open("/dev/null", "w"))
    cred = ExchangeCredential.objects.get(pk=key_id)
    assert cred.api_secret_enc != before
    settings.FIELD_ENCRYPTION_KEYS = [new]  # old key dropped: everything still readable
    cred = ExchangeCredential.objects.get(pk=key_id)
    assert (cred.api_key, cred.api_secret, cred.passphrase) == ("KEY-abcdefgh1234", SECRET, PASSPHRASE)


# --- POST /api/keys/test --------------------------------------------------------------------------------------------


def test_keys_test_valid(auth_client, binance_via_fake):
    resp = auth_client.post(
        "/api/keys/test",
        {"provider": "binance", "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET, "passphrase": ""},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    assert resp.json() == {
        "success": True,
        "message": "API keys are valid",
        "provider": "binance",
        "account": None,  # what the exchange tells about the keys (ccxt: nothing here)
        "permissions": None,
    }
    assert binance_via_fake.count("GET", "/api/v3/account") == 1


def test_keys_test_rejected(auth_client, binance_via_fake):
    resp = auth_client.post(
        "/api/keys/test", {"provider": "binance", "api_key": "nope", "api_secret": "bad"}, format="json"
    )
    body = assert_error(resp, 400, "VALIDATION_ERROR")
    assert body["error"] == "Invalid API credentials"


def test_keys_test_validation_errors(auth_client):
    assert_error(
        auth_client.post("/api/keys/test", {"provider": "mtgox", "api_key": "a", "api_secret": "b"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        auth_client.post(
            "/api/keys/test", {"provider": "kucoin", "api_key": "a", "api_secret": "b", "passphrase": ""}, format="json"
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        auth_client.post("/api/keys/test", {"provider": "binance", "api_key": "a"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(auth_client.post("/api/keys/test", {}, format="json"), 400, "VALIDATION_ERROR")


def test_keys_test_unreachable_is_provider_error(auth_client, binance_via_fake, settings):
    binance_via_fake.stop()
    resp = auth_client.post(
        "/api/keys/test", {"provider": "binance", "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET}, format="json"
    )
    assert_error(resp, 502, "PROVIDER_ERROR")


def test_keys_test_stored_credential_records_result(auth_client, binance_via_fake):
    good = create(auth_client, provider="binance", api_key=DEFAULT_KEY, api_secret=DEFAULT_SECRET, passphrase="")
    bad = create(auth_client, provider="binance", api_key="bad-key-0000", api_secret="bad", passphrase="")
    resp = auth_client.post("/api/keys/test", {"credential_id": good.json()["key"]["id"]}, format="json")
    assert resp.json() == {
        "success": True,
        "message": "API keys are valid",
        "provider": "binance",
        "account": None,  # what the exchange tells about the keys (ccxt: nothing here)
        "permissions": None,
    }
    assert_error(
        auth_client.post("/api/keys/test", {"credential_id": bad.json()["key"]["id"]}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    keys = {k["id"]: k for k in auth_client.get("/api/keys").json()["keys"]}
    assert keys[good.json()["key"]["id"]]["keys_valid"] is True
    assert keys[bad.json()["key"]["id"]]["keys_valid"] is False
    assert keys[bad.json()["key"]["id"]]["last_checked_at"].endswith("Z")
