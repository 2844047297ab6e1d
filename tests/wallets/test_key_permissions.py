"""Exchange testnets and key permissions through the API: a Binance key marked testnet runs ccxt in sandbox mode,
platforms without a sandbox refuse testnet; a tested key records what the exchange says it may do, and keys that can
withdraw are refused (and stay not valid for live trading) unless the user accepted that."""

import pytest

from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error
from trading.exchanges import connect
from trading.exchanges.base import KeySet
from trading.platforms import PLATFORMS
from wallets.models import ExchangeCredential
from wallets.selectors import live_credential

pytestmark = pytest.mark.django_db

BINANCE = {"provider": "binance", "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET}


def test_only_platforms_with_a_ccxt_sandbox_offer_testnet():
    import ccxt

    for platform in PLATFORMS.values():
        if platform.adapter != "ccxt":
            continue
        klass = getattr(ccxt, platform.ccxt_id, None)
        has_sandbox = bool(klass and klass().urls.get("test"))
        assert platform.supports_testnet == has_sandbox, platform.id
    assert PLATFORMS["binance"].supports_testnet is True


def test_a_testnet_key_uses_ccxt_sandbox_mode(auth_client, user, binance_via_fake, settings):
    settings.EXCHANGE_URL_OVERRIDES = {}
    exchange = connect("binance", KeySet("binance", DEFAULT_KEY, DEFAULT_SECRET, testnet=True))
    assert exchange.testnet and "testnet.binance.vision" in exchange.client.urls["api"]["public"]
    assert "testnet" in repr(exchange) and DEFAULT_KEY not in repr(exchange)
    assert (
        "api.binance.com"
        in connect("binance", KeySet("binance", DEFAULT_KEY, DEFAULT_SECRET)).client.urls["api"]["public"]
    )
    settings.EXCHANGE_URL_OVERRIDES = {"binance": binance_via_fake.url}
    created = auth_client.post("/api/keys", {**BINANCE, "testnet": True}, format="json")
    assert created.status_code == 201, created.content
    key = created.json()["key"]
    assert key["testnet"] is True
    tested = auth_client.post("/api/keys/test", {"credential_id": key["id"]}, format="json")
    assert tested.status_code == 200, tested.content
    assert tested.json()["permissions"] is None  # the testnet has no apiRestrictions: nothing reported
    assert binance_via_fake.count("GET", "/sapi/v1/account/apiRestrictions") == 0
    assert live_credential(user, "binance").testnet is True


def test_platforms_without_a_sandbox_refuse_testnet(auth_client):
    body = assert_error(
        auth_client.post(
            "/api/keys",
            {"provider": "kraken", "api_key": "k", "api_secret": "s", "testnet": True},
            format="json",
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert body["error"] == "Kraken has no testnet" and body["details"] == {"testnet": ["not offered"]}
    body = assert_error(
        auth_client.post(
            "/api/keys/test", {"provider": "luno", "api_key": "k", "api_secret": "s", "testnet": True}, format="json"
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert body["error"] == "Luno has no testnet"
    stored = auth_client.post("/api/keys", {"provider": "kraken", "api_key": "k", "api_secret": "s"}, format="json")
    patched = auth_client.patch(f"/api/keys/{stored.json()['key']['id']}", {"testnet": True}, format="json")
    assert assert_error(patched, 400, "VALIDATION_ERROR")["error"] == "Kraken has no testnet"
    # The adapter refuses it as well, whoever builds it.
    from amarktai.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="no testnet"):
        connect("kraken", KeySet("kraken", "k", "s", testnet=True))


def test_a_tested_key_records_its_permissions(auth_client, binance_via_fake):
    key = auth_client.post("/api/keys", BINANCE, format="json").json()["key"]
    assert key["permissions"] is None and key["withdraw_accepted"] is False
    tested = auth_client.post("/api/keys/test", {"credential_id": key["id"]}, format="json")
    assert tested.json()["permissions"] == {"read": True, "trade": True, "withdraw": False}
    stored = auth_client.get(f"/api/keys/{key['id']}").json()["key"]
    assert stored["permissions"] == {"read": True, "trade": True, "withdraw": False} and stored["keys_valid"] is True
    # Changing the keys forgets what was learnt about the old ones.
    changed = auth_client.patch(f"/api/keys/{key['id']}", {"api_secret": DEFAULT_SECRET}, format="json")
    assert changed.json()["key"]["permissions"] is None and changed.json()["key"]["keys_valid"] is None


def test_a_key_that_can_withdraw_is_refused_until_accepted(auth_client, user, binance_via_fake):
    binance_via_fake.set_restrictions(DEFAULT_KEY, enableWithdrawals=True)
    key = auth_client.post("/api/keys", BINANCE, format="json").json()["key"]
    body = assert_error(
        auth_client.post("/api/keys/test", {"credential_id": key["id"]}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert "can withdraw funds" in body["error"] and "accept_withdraw" in body["error"]
    assert list(body["details"]) == ["accept_withdraw"]
    cred = ExchangeCredential.objects.get(pk=key["id"])
    assert cred.keys_valid is False and cred.permissions == {"read": True, "trade": True, "withdraw": True}
    assert live_credential(user, "binance") is None  # not valid for live trading
    # The same keys tested unstored: refused too, unless accepted in the request.
    assert_error(auth_client.post("/api/keys/test", BINANCE, format="json"), 400, "VALIDATION_ERROR")
    accepted_test = auth_client.post("/api/keys/test", {**BINANCE, "accept_withdraw": True}, format="json")
    assert accepted_test.status_code == 200 and accepted_test.json()["permissions"]["withdraw"] is True
    # Accepting on the stored key (PATCH), then testing again, makes it valid.
    patched = auth_client.patch(f"/api/keys/{key['id']}", {"accept_withdraw": True}, format="json")
    assert patched.status_code == 200 and patched.json()["key"]["withdraw_accepted"] is True
    assert auth_client.post("/api/keys/test", {"credential_id": key["id"]}, format="json").status_code == 200
    assert live_credential(user, "binance").pk == cred.pk
    # Keys stored with accept_withdraw pass at once.
    other = auth_client.post("/api/keys", {**BINANCE, "label": "b", "accept_withdraw": True}, format="json")
    assert other.json()["key"]["withdraw_accepted"] is True
    retested = auth_client.post("/api/keys/test", {"credential_id": other.json()["key"]["id"]}, format="json")
    assert retested.status_code == 200
