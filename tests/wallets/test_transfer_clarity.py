"""Wallet clarity: a transfer says what it is (a ledger entry waiting for the user to move the money), pairs that cannot
work are refused (ZAR to Binance), statuses are explained, and no message shows an internal field name."""

import re

import pytest

from tests.helpers import assert_error
from trading.platforms import get_platform
from wallets.models import Transfer
from wallets.payloads import STATUS_DESCRIPTIONS

pytestmark = pytest.mark.django_db

FIELD_KEYS = re.compile(r"\b(from_provider|to_provider|currency|amount|reason|status)\b\s*:")
INTERNAL = re.compile(r"from_provider|to_provider|_provider|manual_allocation")


def transfer(client, **over):
    body = {"from_provider": "luno", "to_provider": "valr", "amount": 100, "currency": "ZAR", **over}
    return client.post("/api/wallet/transfer", body, format="json")


def test_catalogue_says_what_each_exchange_holds():
    assert "ZAR" in get_platform("luno").currencies and "ZAR" not in get_platform("binance").currencies
    assert set(get_platform("binance").currencies) >= {"BTC", "USDT"}


def test_zar_to_binance_is_refused_in_plain_words(auth_client):
    body = assert_error(transfer(auth_client, to_provider="binance"), 400, "VALIDATION_ERROR")
    assert body["error"].startswith("Binance does not hold ZAR, so ZAR cannot be sent to it. Binance holds ")
    assert "currency" in body["details"]
    assert not INTERNAL.search(body["error"])
    assert Transfer.objects.count() == 0


def test_currency_the_source_cannot_hold_is_refused(auth_client):
    body = assert_error(
        transfer(auth_client, from_provider="binance", to_provider="luno", currency="BNB"), 400, "VALIDATION_ERROR"
    )
    assert body["error"].startswith("Luno does not hold BNB, so BNB cannot be sent to it.")


def test_a_currency_both_hold_is_accepted(auth_client):
    response = transfer(auth_client, from_provider="binance", to_provider="luno", currency="USDT", amount=10)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "over",
    [
        {"from_provider": "mtgox"},
        {"to_provider": "luno"},
        {"currency": "Z$"},
        {"currency": ""},
        {"amount": "abc"},
        {"amount": 0},
        {"to_provider": None},
        {"from_provider": ""},
    ],
)
def test_no_field_names_in_messages(auth_client, over):
    body = assert_error(transfer(auth_client, **over), 400, "VALIDATION_ERROR")
    assert not FIELD_KEYS.search(body["error"]) and not INTERNAL.search(body["error"]), body["error"]
    assert body["details"]  # the keys stay in details, for programs


def test_messages_for_the_same_exchange_and_an_unknown_one(auth_client):
    same = assert_error(transfer(auth_client, to_provider="luno"), 400, "VALIDATION_ERROR")
    assert same["error"] == "Choose another exchange to send to: the money is already on Luno."
    unknown = assert_error(transfer(auth_client, from_provider="mtgox"), 400, "VALIDATION_ERROR")
    assert unknown["error"] == '"mtgox" is not an exchange Amarktai supports: choose one to send from.'
    bad_amount = assert_error(transfer(auth_client, amount="abc"), 400, "VALIDATION_ERROR")
    assert bad_amount["error"] == "Amount: A valid number is required."


def test_live_transfer_says_the_user_moves_the_money(user):
    """Out of a live account nothing is held: the message says the user moves the money on the exchanges."""
    from decimal import Decimal

    from wallets.payloads import transfer_message

    live = Transfer(user=user, from_provider="luno", to_provider="valr", currency="BTC", amount=Decimal("0.001"))
    assert transfer_message(live) == (
        "Transfer recorded as pending. Amarktai does not move real money between exchanges: withdraw 0.001 BTC from "
        "Luno and deposit it on VALR yourself, then mark this transfer completed (or cancel it)."
    )


def test_statuses_are_explained(auth_client):
    t_id = transfer(auth_client).json()["transfer"]["id"]
    auth_client.post(f"/api/wallet/transfers/{t_id}/cancel")
    item = auth_client.get("/api/wallet/transfers").json()["transfers"][0]
    assert item["status"] == "canceled" and item["status_description"] == STATUS_DESCRIPTIONS["canceled"]
    assert set(STATUS_DESCRIPTIONS) == {"pending", "completed", "failed", "canceled"}
    again = assert_error(auth_client.post(f"/api/wallet/transfers/{t_id}/complete"), 409, "CONFLICT")
    assert again["error"] == "This transfer is already canceled: only a pending transfer can be completed or canceled"


def test_key_forms_speak_plainly_too(auth_client):
    missing = assert_error(
        auth_client.post("/api/keys", {"provider": "luno", "api_key": "k" * 20}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert missing["error"] == "API secret: This field is required." and "api_secret" in missing["details"]
    unknown = assert_error(
        auth_client.post("/api/keys/test", {"provider": "luno", "api_key": "k" * 20}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert unknown["error"] == "Enter the API secret" and not INTERNAL.search(unknown["error"])
