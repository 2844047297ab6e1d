"""mStock credentials over the API: the catalogue lists the broker's fields, the TOTP secret is validated as base32,
encrypted at rest and never returned; testing the keys logs in with a real TOTP check at the fake mStock; a wrong TOTP
secret gets a clear error; an expired session is renewed once and the new one is stored encrypted."""

from decimal import Decimal

import pytest
from django.db import connection

from tests.fake_mstock.fixtures import fake_mstock, mstock_via_fake  # noqa: F401
from tests.fake_mstock.server import DEFAULT_CLIENT, DEFAULT_KEY, DEFAULT_SECRET, DEFAULT_TOTP_SECRET
from tests.helpers import assert_error
from trading.exchanges import get_exchange
from wallets.models import ExchangeCredential

pytestmark = pytest.mark.django_db
WRONG_SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"


def store(client, **over):
    body = {
        "provider": "mstock",
        "api_key": DEFAULT_KEY,
        "api_secret": DEFAULT_SECRET,
        "client_code": DEFAULT_CLIENT,
        "totp_secret": DEFAULT_TOTP_SECRET,
        **over,
    }
    return client.post("/api/keys", body, format="json")


def raw_columns(credential_id):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT api_secret_enc, extras_enc, session_enc FROM {ExchangeCredential._meta.db_table} WHERE id = %s",
            [credential_id.hex if connection.vendor == "sqlite" else credential_id],
        )
        return cursor.fetchone()


def test_catalogue_and_providers_list_mstock(api_client):
    [platform] = [p for p in api_client.get("/api/system/platforms").json()["platforms"] if p["id"] == "mstock"]
    assert platform["kind"] == "stock" and platform["quote_currency"] == "INR" and platform["region"] == "IN"
    assert platform["symbols"] == ["RELIANCE/INR", "TCS/INR", "INFY/INR", "SBIN/INR"]
    [provider] = [p for p in api_client.get("/api/providers").json()["providers"] if p["id"] == "mstock"]
    assert provider["type"] == "broker"
    assert provider["required_fields"] == ["api_key", "api_secret", "client_code", "totp_secret"]
    fields = {f["name"]: f for f in provider["fields"]}
    assert fields["client_code"]["secret"] is False and fields["totp_secret"]["secret"] is True
    assert fields["totp_secret"]["kind"] == "base32"


def test_store_encrypted_and_never_returned(auth_client, user):
    resp = store(auth_client, totp_secret="jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp")  # as apps show it
    assert resp.status_code == 201, resp.content
    key = resp.json()["key"]
    assert key["provider"] == "mstock" and key["settings"] == {"client_code": DEFAULT_CLIENT}
    text = resp.content.decode() + auth_client.get("/api/keys").content.decode()
    assert DEFAULT_TOTP_SECRET not in text and DEFAULT_SECRET not in text and "totp_secret" not in text
    cred = ExchangeCredential.objects.get(pk=key["id"])
    assert cred.extras == {"client_code": DEFAULT_CLIENT, "totp_secret": DEFAULT_TOTP_SECRET}  # canonical base32
    secret_col, extras_col, session_col = raw_columns(cred.pk)
    for column in (secret_col, extras_col):
        assert DEFAULT_TOTP_SECRET not in column and DEFAULT_CLIENT not in column and DEFAULT_SECRET not in column
    assert session_col == ""


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"totp_secret": "not base32! 0189"}, "totp_secret"),
        ({"totp_secret": ""}, "totp_secret"),
        ({"client_code": ""}, "client_code"),
        ({"api_secret": ""}, "api_secret"),
    ],
)
def test_missing_or_invalid_fields_refused(auth_client, over, field):
    body = assert_error(store(auth_client, **over), 400, "VALIDATION_ERROR")
    assert field in body["details"]
    if over.get("totp_secret"):
        assert "base32" in body["details"]["totp_secret"][0] and "TOTP secret" in body["error"]
        assert "not base32" not in body["error"]  # the value is never echoed
    assert ExchangeCredential.objects.count() == 0


def test_keys_test_logs_in_and_stores_the_session_encrypted(auth_client, mstock_via_fake):
    key_id = store(auth_client).json()["key"]["id"]
    resp = auth_client.post("/api/keys/test", {"credential_id": key_id}, format="json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["provider"] == "mstock"
    assert mstock_via_fake.logins == 1
    cred = ExchangeCredential.objects.get(pk=key_id)
    assert cred.keys_valid is True and cred.session in mstock_via_fake.sessions
    _, _, session_col = raw_columns(cred.pk)
    assert session_col and cred.session not in session_col  # Fernet ciphertext, not the token


def test_unstored_keys_can_be_tested(auth_client, mstock_via_fake):
    body = {
        "provider": "mstock",
        "api_key": DEFAULT_KEY,
        "api_secret": DEFAULT_SECRET,
        "extra": {"client_code": DEFAULT_CLIENT, "totp_secret": DEFAULT_TOTP_SECRET},
    }
    assert auth_client.post("/api/keys/test", body, format="json").status_code == 200
    assert mstock_via_fake.logins == 1 and ExchangeCredential.objects.count() == 0


def test_wrong_totp_secret_is_a_clear_error(auth_client, mstock_via_fake):
    key_id = store(auth_client, totp_secret=WRONG_SECRET).json()["key"]["id"]
    body = assert_error(
        auth_client.post("/api/keys/test", {"credential_id": key_id}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert "refused the TOTP" in body["error"] and "check the TOTP secret" in body["error"]
    assert WRONG_SECRET not in body["error"]
    assert ExchangeCredential.objects.get(pk=key_id).keys_valid is False
    assert mstock_via_fake.totp_refusals == 1
    unstored = {
        "provider": "mstock",
        "api_key": DEFAULT_KEY,
        "api_secret": DEFAULT_SECRET,
        "client_code": DEFAULT_CLIENT,
        "totp_secret": WRONG_SECRET,
    }
    body = assert_error(auth_client.post("/api/keys/test", unstored, format="json"), 400, "VALIDATION_ERROR")
    assert "refused the TOTP" in body["error"]


def test_expired_session_relogs_once_and_stores_the_new_session_encrypted(auth_client, user, mstock_via_fake):
    key_id = store(auth_client).json()["key"]["id"]
    assert auth_client.post("/api/keys/test", {"credential_id": key_id}, format="json").status_code == 200
    first = ExchangeCredential.objects.get(pk=key_id).session
    mstock_via_fake.expire_sessions()  # the broker drops the session overnight

    balance = get_exchange(user, "mstock", "live").fetch_balance()

    assert balance["INR"]["free"] == Decimal(500000)
    assert mstock_via_fake.logins == 2
    cred = ExchangeCredential.objects.get(pk=key_id)
    assert cred.session != first and not mstock_via_fake.sessions[cred.session]["expired"]
    _, _, session_col = raw_columns(cred.pk)
    assert cred.session not in session_col and first not in session_col
    # the next call (a new adapter) reuses the stored session: no further login
    get_exchange(user, "mstock", "live").fetch_ticker("RELIANCE/INR")
    assert mstock_via_fake.logins == 2


def test_sessions_are_per_user(auth_client, other_client, user, other_user, mstock_via_fake):
    mine = store(auth_client).json()["key"]["id"]
    theirs = store(other_client).json()["key"]["id"]
    get_exchange(user, "mstock", "live").fetch_balance()
    get_exchange(other_user, "mstock", "live").fetch_balance()
    a, b = ExchangeCredential.objects.get(pk=mine).session, ExchangeCredential.objects.get(pk=theirs).session
    assert a and b and a != b and mstock_via_fake.logins == 2


def test_live_wallet_balance_in_inr(auth_client, user, mstock_via_fake):
    store(auth_client)
    user.system_mode = "live_trading"
    user.save(update_fields=["system_mode"])
    mstock_via_fake.holdings["TCS"] = 3
    body = auth_client.get("/api/wallet/balances").json()
    assert body["mode"] == "live" and not body.get("errors")
    assert body["balances"]["mstock"]["INR"] == 500000 and body["balances"]["mstock"]["TCS"] == 3


def test_platform_health_pings_mstock_without_a_session(auth_client, mstock_via_fake):
    store(auth_client)
    body = auth_client.get("/api/platforms/health").json()
    entry = body["platforms"]["mstock"]
    assert entry["status"] == "operational" and entry["has_keys"] is True and entry["api_latency_ms"] >= 0
    assert mstock_via_fake.logins == 0  # reachability only: no login, no session used


def test_unreachable_mstock_is_down_in_health(auth_client, settings):
    settings.MSTOCK_BASE_URL = "http://127.0.0.1:9/"
    store(auth_client)
    entry = auth_client.get("/api/platforms/health").json()["platforms"]["mstock"]
    assert entry["status"] == "down"
