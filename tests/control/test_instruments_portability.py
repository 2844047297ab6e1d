"""The watch list travels with the exported set-up: export carries each instrument's market, notes and alert levels;
import creates or updates them (dry run first) with the same market checks as POST /api/instruments, and a faulty
instrument changes nothing and is named by its path."""

from decimal import Decimal

import pytest

from market.models import Instrument
from market.services import create_instrument
from tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db


def test_instruments_are_exported_and_imported_with_a_dry_run_first(user, other_user):
    create_instrument(user, exchange="luno", symbol="BTC/ZAR", notes="core holding", alert_above=Decimal("2000000"))
    create_instrument(user, exchange="binance", symbol="ETH/USDT", alert_below=Decimal("1500"))
    create_instrument(other_user, exchange="luno", symbol="BTC/ZAR", notes="old note")
    document = client_for(user).post("/api/config/export").json()["document"]
    assert document["instruments"] == [
        {"exchange": "binance", "symbol": "ETH/USDT", "notes": "", "alert_above": None, "alert_below": "1500.00000000"},
        {"exchange": "luno", "symbol": "BTC/ZAR", "notes": "core holding", "alert_above": "2000000.00000000",
         "alert_below": None},
    ]  # fmt: skip

    target = client_for(other_user)
    dry = target.post("/api/config/import", {"document": document, "dry_run": True}, format="json").json()
    instruments = {(i["key"], i["action"]) for i in dry["items"] if i["kind"] == "instrument"}
    assert instruments == {("binance ETH/USDT", "created"), ("luno BTC/ZAR", "updated")}
    assert Instrument.objects.filter(user=other_user).count() == 1  # a dry run changes nothing

    assert target.post("/api/config/import", {"document": document}, format="json").status_code == 200
    mine = {(i.exchange, i.symbol): i for i in Instrument.objects.filter(user=other_user)}
    assert set(mine) == {("luno", "BTC/ZAR"), ("binance", "ETH/USDT")}
    assert mine[("luno", "BTC/ZAR")].notes == "core holding"
    assert mine[("luno", "BTC/ZAR")].alert_above == Decimal("2000000")
    assert mine[("binance", "ETH/USDT")].alert_below == Decimal("1500")
    again = target.post("/api/config/import", {"document": document, "dry_run": True}, format="json").json()
    assert {i["action"] for i in again["items"] if i["kind"] == "instrument"} == {"unchanged"}


def test_a_faulty_instrument_changes_nothing_and_is_named(user, other_user):
    document = {
        "version": 1,
        "bots": [],
        "instruments": [
            {"exchange": "luno", "symbol": "BTC/ZAR", "notes": "fine"},
            {"exchange": "luno", "symbol": "DOGE/XYZ"},
            {"exchange": "luno", "symbol": "BTC/ZAR", "alert_above": 10, "alert_below": 20},
        ],
    }
    response = client_for(other_user).post("/api/config/import", {"document": document}, format="json")
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "instruments[1].symbol" in body["details"]
    assert "instruments[2].alert_below" in body["details"]
    assert not Instrument.objects.filter(user=other_user).exists()
