"""Platform health, wallet balances and the transfer ledger over the real API stack."""

import time
from decimal import Decimal

import pytest

from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from tests.helpers import assert_error
from trading.exchanges import get_exchange, simfeed
from trading.platforms import PLATFORMS
from trading.valuation import Valuation
from wallets.models import Transfer, TransferEvent
from wallets.services import transfers as transfer_service

pytestmark = pytest.mark.django_db


def add_binance_keys(client, key=DEFAULT_KEY, secret=DEFAULT_SECRET):
    resp = client.post("/api/keys", {"provider": "binance", "api_key": key, "api_secret": secret}, format="json")
    assert resp.status_code == 201
    return resp.json()["key"]["id"]


# --- health ---------------------------------------------------------------------------------------------------------


def test_health_not_configured(auth_client):
    body = auth_client.get("/api/platforms/health").json()
    assert body["success"] is True
    assert set(body["platforms"]) == set(PLATFORMS)  # every catalogue platform, crypto exchanges and brokers
    assert {"luno", "binance", "kucoin", "kraken", "valr"} <= set(body["platforms"])
    assert all(entry["status"] == "not_configured" for entry in body["platforms"].values())
    assert body["platforms"]["luno"] == {
        "status": "not_configured",
        "has_keys": False,
        "keys_valid": None,
        "last_check": None,
    }


def test_health_operational_then_cached(auth_client, binance_via_fake):
    add_binance_keys(auth_client)
    entry = auth_client.get("/api/platforms/health").json()["platforms"]["binance"]
    assert entry["status"] == "operational" and entry["has_keys"] is True and entry["keys_valid"] is None
    assert isinstance(entry["api_latency_ms"], int) and entry["last_check"].endswith("Z")
    calls = binance_via_fake.count("GET", "/api/v3/ticker/24hr")
    assert calls == 1
    auth_client.get("/api/platforms/health")
    assert binance_via_fake.count("GET", "/api/v3/ticker/24hr") == calls  # cached


def test_health_degraded_when_keys_invalid(auth_client, binance_via_fake):
    key_id = add_binance_keys(auth_client, key="bad-key-0000")
    auth_client.post("/api/keys/test", {"credential_id": key_id}, format="json")
    entry = auth_client.get("/api/platforms/health").json()["platforms"]["binance"]
    assert entry["status"] == "degraded" and entry["keys_valid"] is False


def test_health_down_is_bounded(auth_client, binance_via_fake, settings):
    settings.HEALTH_TIMEOUT_MS = 300
    add_binance_keys(auth_client)
    binance_via_fake.fail_next("timeout", times=10, delay=1.0, path="/api/v3/exchangeInfo")
    started = time.monotonic()
    entry = auth_client.get("/api/platforms/health").json()["platforms"]["binance"]
    assert time.monotonic() - started < 1.5
    assert entry["status"] == "down" and entry["api_latency_ms"] is None


def test_health_requires_auth(api_client):
    assert_error(api_client.get("/api/platforms/health"), 401, "AUTH_REQUIRED")


# --- balances -------------------------------------------------------------------------------------------------------


def test_paper_balances_and_total(auth_client, user):
    body = auth_client.get("/api/wallet/balances").json()
    assert body["success"] is True and body["mode"] == "paper"
    assert body["balances"]["luno"] == {"ZAR": 100000.0}
    assert body["balances"]["binance"] == {"USDT": 10000.0}
    assert body["balances"]["kraken"] == {"USD": 10000.0}
    assert body["balances"]["alpaca"] == {"USD": 10000.0}
    assert body["balances"]["mstock"] == body["balances"]["openalgo"] == {"INR": 1000000.0}
    rates = body["rates"]  # what the answer used: ZAR from USDT/ZAR, USD through BTC/USD and BTC/ZAR, INR's reference
    # luno+valr ZAR; binance+kucoin USDT; kraken+alpaca USD; mstock+openalgo INR
    expected = 200000 + 20000 * rates["USDT"] + 20000 * rates["USD"] + 2000000 * rates["INR"]
    assert body["currency"] == "ZAR" and rates["ZAR"] == 1.0
    assert body["total_value_zar"] == body["total_value"] == pytest.approx(expected, rel=1e-6)
    holdings = {"USD": 20000.0, "USDT": 20000.0, "ZAR": 200000.0, "INR": 2000000.0}
    assert body["breakdown"] == {c: {"total_value": a, "unallocated": a} for c, a in holdings.items()}  # no bots
    assert body["unpriced"] == {}


def test_paper_balances_after_trade_priced_through_pairs(auth_client, user):
    get_exchange(user, "binance", "paper").create_order("SOL/USDT", "market", "buy", "2")
    body = auth_client.get("/api/wallet/balances").json()
    assert body["balances"]["binance"]["SOL"] == 2.0
    pricer = Valuation("ZAR", "simulated")
    sol_zar = pricer.rate("SOL")
    direct = (simfeed.ticker("SOL/ZAR")["bid"] + simfeed.ticker("SOL/ZAR")["ask"]) / 2
    assert abs(sol_zar - direct) / direct < Decimal("0.001")  # X/ZAR directly when the pair exists
    assert pricer.rate("BNB") is not None  # BNB/ZAR missing: BNB/USDT x USDT/ZAR
    assert pricer.rate("DOGE") is None  # no rule prices it -> excluded and listed


def test_live_balances_through_adapter(auth_client, user, binance_via_fake):
    user.system_mode = "live_trading"
    user.save(update_fields=["system_mode"])
    add_binance_keys(auth_client)
    body = auth_client.get("/api/wallet/balances").json()
    assert body["mode"] == "live"
    assert body["balances"] == {"binance": {"BTC": 0.5, "USDT": 10000.0}}
    assert body["total_value_zar"] > 0 and body["errors"] == {}


def test_live_balances_report_provider_errors(auth_client, user, binance_via_fake):
    user.system_mode = "live_trading"
    user.save(update_fields=["system_mode"])
    add_binance_keys(auth_client, key="bad-key-0000")
    body = auth_client.get("/api/wallet/balances").json()
    assert body["balances"] == {} and body["errors"] == {"binance": "Invalid API credentials"}


# --- transfers ------------------------------------------------------------------------------------------------------


def transfer(client, **over):
    body = {
        "from_provider": "luno",
        "to_provider": "valr",
        "amount": 1000.0,
        "currency": "ZAR",
        "reason": "manual_allocation",
    }
    body.update(over)
    return client.post("/api/wallet/transfer", body, format="json")


def test_transfer_recorded_and_listed(auth_client):
    resp = transfer(auth_client)
    assert resp.status_code == 200, resp.content
    t = resp.json()["transfer"]
    assert t["status"] == "pending"
    assert t["message"] == (
        "Transfer recorded as pending: 1000 ZAR is set aside on your Luno paper account. Mark it completed to move it "
        "to VALR (or cancel it to free it again)."
    )
    listing = auth_client.get("/api/wallet/transfers").json()
    assert listing["success"] is True
    item = listing["transfers"][0]
    assert set(item) == {
        "id",
        "from_provider",
        "to_provider",
        "amount",
        "currency",
        "status",
        "status_description",
        "reason",
        "correlation_id",
        "timestamp",
    }
    assert item["id"] == t["id"] and item["amount"] == 1000.0 and item["status"] == "pending"
    assert item["status_description"].startswith("Recorded, not yet carried out.")
    assert item["correlation_id"] == t["correlation_id"]


def test_transfer_ledger_is_append_only(auth_client, user):
    t_id = transfer(auth_client).json()["transfer"]["id"]
    transfer_service.record_status(user, t_id, "completed", "done by hand")
    assert auth_client.get("/api/wallet/transfers").json()["transfers"][0]["status"] == "completed"
    row = Transfer.objects.get(pk=t_id)
    row.amount = Decimal("1")
    with pytest.raises(ValueError):
        row.save()
    assert TransferEvent.objects.filter(transfer_id=t_id).count() == 2
    assert Transfer.objects.get(pk=t_id).amount == Decimal("1000")


@pytest.mark.parametrize(
    "over",
    [
        {"amount": 0},
        {"amount": -5},
        {"amount": "abc"},
        {"from_provider": "mtgox"},
        {"to_provider": "luno"},
        {"currency": "Z$"},
        {"currency": ""},
        {"to_provider": None},
    ],
)
def test_transfer_validation(auth_client, over):
    assert_error(transfer(auth_client, **over), 400, "VALIDATION_ERROR")
    assert Transfer.objects.count() == 0


def test_transfer_insufficient_funds_counts_pending(auth_client):
    assert_error(transfer(auth_client, amount=100001), 400, "INSUFFICIENT_FUNDS")
    assert_error(transfer(auth_client, currency="BTC", amount=1), 400, "INSUFFICIENT_FUNDS")
    assert transfer(auth_client, amount=60000).status_code == 200
    assert_error(transfer(auth_client, amount=60000), 400, "INSUFFICIENT_FUNDS")  # 40 000 left after the pending one
    assert Transfer.objects.count() == 1


def test_transfers_are_per_user(auth_client, other_client, other_user):
    t_id = transfer(auth_client).json()["transfer"]["id"]
    assert other_client.get("/api/wallet/transfers").json()["transfers"] == []
    from amarktai.errors import NotFound

    with pytest.raises(NotFound):
        transfer_service.record_status(other_user, t_id, "completed")
