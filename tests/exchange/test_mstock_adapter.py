"""The mStock adapter (trading/exchanges/mstock_adapter.py) through the real SDK (mstock-tradingapi-a) against the fake
mStock server (tests/fake_mstock): TOTP login, the session kept and renewed once, funds, orders, positions, products,
a rejected order, 5xx, timeouts, and nothing secret in the logs."""

import logging
import os
from decimal import Decimal
from types import SimpleNamespace

import pyotp
import pytest

from amarktai.errors import AuthInvalid, InsufficientFunds, ProviderError, ValidationFailed
from tests.fake_mstock.fixtures import fake_mstock, mstock_via_fake  # noqa: F401
from tests.fake_mstock.server import DEFAULT_CLIENT, DEFAULT_KEY, DEFAULT_SECRET, DEFAULT_TOTP_SECRET
from trading.exchanges import connect, public_exchange
from trading.exchanges.base import KeySet
from trading.exchanges.mstock_adapter import TOTP_REFUSED, order_tag

pytestmark = pytest.mark.django_db
WRONG_SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"  # valid base32, not the account's


def keys(totp_secret=DEFAULT_TOTP_SECRET, api_key=DEFAULT_KEY, session=""):
    extras = {"client_code": DEFAULT_CLIENT, "totp_secret": totp_secret}
    return KeySet("mstock", api_key, DEFAULT_SECRET, "", extras, False, session)


@pytest.fixture
def ks(mstock_via_fake):
    return keys()


@pytest.fixture
def ex(ks):
    return connect("mstock", ks)


def test_login_with_a_real_totp_and_test_connection(ex, ks, mstock_via_fake):
    assert ex.test_connection() == {
        "permissions": {"read": True, "trade": True, "withdraw": False},
        "account": f"mStock client {DEFAULT_CLIENT}",
    }
    assert mstock_via_fake.logins == 1 and mstock_via_fake.count("POST", "session/verifytotp") == 1
    assert ks.session in mstock_via_fake.sessions  # the session the broker issued, kept for the next call
    # the login sent the API key and a current code of the secret, never the secret itself
    login = mstock_via_fake.bodies[mstock_via_fake.requests.index(("POST", "/openapi/typea/session/verifytotp"))]
    assert DEFAULT_TOTP_SECRET not in login and f"api_key={DEFAULT_KEY}" in login


def test_the_stored_session_is_reused(ex, ks, mstock_via_fake):
    ex.fetch_balance()
    again = connect("mstock", ks)  # the next adapter (the next bot tick) starts from the kept session
    again.fetch_balance()
    again.fetch_ticker("TCS/INR")
    assert mstock_via_fake.logins == 1


def test_wrong_totp_secret_is_a_clear_error(mstock_via_fake):
    exchange = connect("mstock", keys(totp_secret=WRONG_SECRET))
    with pytest.raises(AuthInvalid) as err:
        exchange.test_connection()
    assert err.value.message == TOTP_REFUSED and "TOTP" in err.value.message and "check the TOTP secret" in TOTP_REFUSED
    assert WRONG_SECRET not in err.value.message
    assert mstock_via_fake.totp_refusals == 1 and mstock_via_fake.logins == 0


def test_wrong_api_key_says_so(mstock_via_fake):
    with pytest.raises(AuthInvalid, match="API key"):
        connect("mstock", keys(api_key="not-a-key")).fetch_balance()


def test_expired_session_relogs_once_and_the_call_succeeds(ex, ks, mstock_via_fake):
    ex.fetch_balance()
    first = ks.session
    mstock_via_fake.expire_sessions()
    balance = ex.fetch_balance()
    assert balance["INR"]["free"] == Decimal("500000")
    assert mstock_via_fake.logins == 2
    assert ks.session and ks.session != first and not mstock_via_fake.sessions[ks.session]["expired"]
    # a fresh adapter with the expired session stored re-logs once as well
    mstock_via_fake.expire_sessions()
    assert connect("mstock", ks).fetch_ticker("SBIN/INR")["last"] == Decimal("800")
    assert mstock_via_fake.logins == 3


def test_a_session_refused_after_the_relogin_is_not_retried_forever(ex, mstock_via_fake, monkeypatch):
    ex.fetch_balance()
    monkeypatch.setattr(mstock_via_fake, "authorised", lambda header: False)
    with pytest.raises(AuthInvalid, match="refused the new session"):
        ex.fetch_balance()
    assert mstock_via_fake.logins == 2  # the first login and ONE renewal


def test_funds_positions_and_balance(ex, mstock_via_fake):
    assert ex.fetch_balance() == {"INR": {"free": Decimal(500000), "used": Decimal(0), "total": Decimal(500000)}}
    ex.create_order("RELIANCE/INR", "market", "buy", 4)
    mstock_via_fake.holdings["TCS"] = 2
    mstock_via_fake.prices["RELIANCE"] = Decimal("2550")
    [position] = ex.fetch_positions()
    assert position["symbol"] == "RELIANCE/INR" and position["amount"] == 4 and position["product"] == "CNC"
    assert position["average_price"] == Decimal(2500) and position["pnl"] == Decimal(200)
    balance = ex.fetch_balance()
    assert balance["INR"]["free"] == Decimal(490000)
    assert balance["RELIANCE"]["total"] == 4 and balance["TCS"]["total"] == 2


def test_market_order_fills_cnc_by_default(ex, mstock_via_fake):
    order = ex.create_order("RELIANCE/INR", "market", "buy", Decimal("3.7"), client_order_id="amk-abc")
    assert order["status"] == "closed" and order["filled"] == 3 and order["amount"] == 3  # whole shares
    assert order["average"] == Decimal(2500) and order["cost"] == Decimal(7500)
    assert order["client_order_id"] == "amk-abc" and order["price_source"] == "exchange"
    [row] = mstock_via_fake.orders.values()
    assert row["product"] == "CNC" and row["validity"] == "DAY" and row["tag"] == order_tag("amk-abc")
    assert len(row["tag"]) <= 20 and mstock_via_fake.count("POST", "orders/regular") == 1


@pytest.mark.parametrize("product", ["MIS", "NRML", "CNC"])
def test_product_and_time_in_force_from_the_order_options(ex, mstock_via_fake, product):
    options = SimpleNamespace(product=product, time_in_force="ioc", stop_price=None)
    ex.create_order("INFY/INR", "market", "buy", 1, options=options)
    [row] = mstock_via_fake.orders.values()
    assert row["product"] == product and row["validity"] == "IOC"


def test_bad_product_and_stop_orders_checked_before_sending(ex, mstock_via_fake):
    with pytest.raises(ValidationFailed, match="product"):
        ex.create_order("INFY/INR", "market", "buy", 1, options=SimpleNamespace(product="MTF"))
    with pytest.raises(ValidationFailed, match="stop price"):
        ex.create_order("INFY/INR", "stop", "sell", 1)
    with pytest.raises(ValidationFailed, match="no market"):
        ex.create_order("BTC/INR", "market", "buy", 1)
    with pytest.raises(ValidationFailed, match="at least 1"):
        ex.create_order("INFY/INR", "market", "buy", Decimal("0.5"))
    assert mstock_via_fake.count("POST", "orders/regular") == 0


def test_stop_limit_sends_the_trigger(ex, mstock_via_fake):
    options = SimpleNamespace(product="MIS", time_in_force="day", stop_price=Decimal("1490"))
    order = ex.create_order("INFY/INR", "stop_limit", "buy", 2, price=Decimal("1480.03"), options=options)
    [row] = mstock_via_fake.orders.values()
    assert row["order_type"] == "SL" and row["trigger_price"] == 1490 and row["price"] == 1480.0  # tick 0.05, down
    assert order["type"] == "stop_limit" and order["status"] == "open"


def test_limit_order_rests_status_and_cancel(ex, mstock_via_fake):
    order = ex.create_order("SBIN/INR", "limit", "buy", 10, price=Decimal("790"))
    assert order["status"] == "open" and order["remaining"] == 10
    assert ex.fetch_balance()["INR"] == {"free": Decimal(492100), "used": Decimal(7900), "total": Decimal(500000)}
    assert [o["id"] for o in ex.fetch_open_orders("SBIN/INR")] == [order["id"]]
    assert ex.fetch_open_orders("TCS/INR") == []
    assert ex.fetch_order(order["id"])["status"] == "open"
    canceled = ex.cancel_order(order["id"], "SBIN/INR")
    assert canceled["status"] == "canceled" and ex.fetch_order(order["id"])["status"] == "canceled"
    assert ex.fetch_open_orders() == []
    assert mstock_via_fake.count("DELETE", f"orders/regular/{order['id']}") == 1


def test_cancel_of_a_filled_order_is_refused(ex, mstock_via_fake):
    order = ex.create_order("SBIN/INR", "market", "buy", 1)
    with pytest.raises(ProviderError, match="cannot be cancelled"):
        ex.cancel_order(order["id"])


def test_rejected_order(ex, mstock_via_fake):
    mstock_via_fake.reject_next("EXCH:16283:Order price is out of the day's price band")
    order = ex.create_order("TCS/INR", "limit", "buy", 1, price=Decimal("9000"))
    assert order["status"] == "rejected" and order["filled"] == 0 and "price band" in order["reason"]


def test_insufficient_funds(ex, mstock_via_fake):
    with pytest.raises(InsufficientFunds):
        ex.create_order("TCS/INR", "market", "buy", 1000)
    assert mstock_via_fake.orders == {}


def test_5xx_and_a_proxy_error_page_are_retried(ex, mstock_via_fake):
    ex.fetch_balance()
    mstock_via_fake.fail_next("500", path="user/fundsummary")
    mstock_via_fake.fail_next("502", path="user/fundsummary")
    assert ex.fetch_balance()["INR"]["free"] == Decimal(500000)
    assert mstock_via_fake.count("GET", "user/fundsummary") == 4


def test_login_failing_with_5xx_or_a_timeout_is_a_provider_error(ks, mstock_via_fake):
    mstock_via_fake.fail_next("500", path="session/verifytotp")
    with pytest.raises(ProviderError, match="not reachable"):
        connect("mstock", ks).fetch_balance()
    mstock_via_fake.fail_next("timeout", delay=2.0, path="session/verifytotp")
    with pytest.raises(ProviderError, match="Timeout"):
        connect("mstock", ks).fetch_balance()
    assert ks.session == "" and mstock_via_fake.count("POST", "session/verifytotp") == 2  # a login is never repeated
    assert connect("mstock", ks).fetch_balance()["INR"]["free"] == Decimal(500000)


def test_5xx_exhausted_is_a_provider_error(ex, mstock_via_fake):
    ex.fetch_balance()
    mstock_via_fake.fail_next("500", times=10, path="user/fundsummary")
    with pytest.raises(ProviderError, match="not reachable"):
        ex.fetch_balance()


def test_timeout_is_retried_then_fails_as_provider_error(ex, mstock_via_fake, settings):
    ex.fetch_balance()
    mstock_via_fake.fail_next("timeout", delay=2.0, path="instruments/quote/ltp")
    assert ex.fetch_ticker("TCS/INR")["last"] == Decimal(3500)
    mstock_via_fake.fail_next("timeout", times=10, delay=2.0, path="instruments/quote/ltp")
    with pytest.raises(ProviderError, match="Timeout"):
        connect("mstock", keys(session=ex.keys.session), max_retries=1).fetch_ticker("TCS/INR")


def test_order_acted_on_but_answer_timed_out_is_found_not_resent(ex, mstock_via_fake):
    ex.fetch_balance()
    mstock_via_fake.fail_next("timeout_after", delay=2.0, path="orders/regular")
    order = ex.create_order("RELIANCE/INR", "market", "buy", 2, client_order_id="amk-timeout")
    assert order["status"] == "closed" and order["filled"] == 2 and order["client_order_id"] == "amk-timeout"
    assert mstock_via_fake.count("POST", "orders/regular") == 1 and len(mstock_via_fake.orders) == 1


def test_order_refused_with_5xx_is_confirmed_absent_and_sent_once_more(ex, mstock_via_fake):
    ex.fetch_balance()
    mstock_via_fake.fail_next("500", path="orders/regular")
    order = ex.create_order("RELIANCE/INR", "market", "buy", 2)
    assert order["status"] == "closed"
    assert mstock_via_fake.count("POST", "orders/regular") == 2 and len(mstock_via_fake.orders) == 1


def test_order_state_unknown_is_not_resent(ex, mstock_via_fake):
    ex.fetch_balance()
    mstock_via_fake.fail_next("500", path="orders/regular")
    mstock_via_fake.fail_next("500", times=10, path="orders")
    with pytest.raises(ProviderError, match="state is unknown"):
        ex.create_order("RELIANCE/INR", "market", "buy", 2)
    assert mstock_via_fake.count("POST", "orders/regular") == 1


def test_session_expired_at_order_time_relogs_and_places_once(ex, mstock_via_fake):
    ex.fetch_balance()
    mstock_via_fake.expire_sessions()
    ex.create_order("RELIANCE/INR", "market", "buy", 1)
    assert mstock_via_fake.logins == 2 and len(mstock_via_fake.orders) == 1
    assert mstock_via_fake.count("POST", "orders/regular") == 2  # the refused one (no order) and the placed one


def test_candles_and_ticker(ex, mstock_via_fake):
    mstock_via_fake.candles["TCS"] = [
        [1_764_000_000_000 + i * 60_000, 3500 + i, 3502 + i, 3499 + i, 3501 + i, 100] for i in range(30)
    ]
    rows = ex.fetch_ohlcv("TCS/INR", "1m", 10)
    assert len(rows) == 10 and rows[-1][0] == 1_764_000_000_000 + 29 * 60_000 and rows[-1][4] == Decimal(3530)
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    with pytest.raises(ValidationFailed, match="4h"):
        ex.fetch_ohlcv("TCS/INR", "4h", 10)
    ticker = ex.fetch_ticker("tcs/inr")
    assert ticker["symbol"] == "TCS/INR" and ticker["bid"] == ticker["ask"] == ticker["last"] == Decimal(3500)


def test_public_adapter_pings_and_refuses_prices(mstock_via_fake):
    exchange = public_exchange("mstock")
    assert exchange.ping() >= 0
    with pytest.raises(ProviderError, match="logged-in account"):
        exchange.fetch_ticker("TCS/INR")
    with pytest.raises(AuthInvalid):
        exchange.fetch_balance()
    assert mstock_via_fake.logins == 0
    markets = exchange.load_markets()
    assert set(markets) == {"RELIANCE/INR", "TCS/INR", "INFY/INR", "SBIN/INR"}
    assert markets["TCS/INR"]["amount_precision"] == 1 and markets["TCS/INR"]["min_amount"] == 1


def test_unreachable_ping_is_a_provider_error(settings):
    settings.MSTOCK_BASE_URL = "http://127.0.0.1:9/"
    with pytest.raises(ProviderError, match="not reachable"):
        public_exchange("mstock", timeout_ms=500).ping()


def test_market_clock_is_nse_hours(ex, monkeypatch):
    from zoneinfo import ZoneInfo

    from tests.equities import NSE_OPEN, at

    ist = ZoneInfo("Asia/Kolkata")
    monkeypatch.setattr("trading.sessions.now", lambda: NSE_OPEN)
    clock = ex.market_clock("TCS/INR")
    assert clock["is_open"] is True and "NSE" in clock["session"]
    assert (clock["next_close"].astimezone(ist).hour, clock["next_close"].astimezone(ist).minute) == (15, 30)
    monkeypatch.setattr("trading.sessions.now", lambda: at(2026, 11, 28, 6, 0))  # a Saturday
    clock = ex.market_clock("TCS/INR")
    opens = clock["next_open"].astimezone(ist)
    assert clock["is_open"] is False and (opens.weekday(), opens.hour, opens.minute) == (0, 9, 15)


def test_no_secret_reaches_the_logs_or_a_file(ex, ks, mstock_via_fake, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    ex.fetch_balance()
    mstock_via_fake.expire_sessions()
    ex.create_order("SBIN/INR", "market", "buy", 1)
    with pytest.raises(AuthInvalid):
        connect("mstock", keys(totp_secret=WRONG_SECRET)).fetch_balance()
    text = caplog.text + repr(ex) + repr(ks.extras.keys())
    issued = list(mstock_via_fake.sessions)
    codes = {pyotp.TOTP(DEFAULT_TOTP_SECRET).now(), pyotp.TOTP(WRONG_SECRET).now()}
    for secret in [DEFAULT_TOTP_SECRET, WRONG_SECRET, DEFAULT_SECRET, *issued, *codes]:
        assert secret not in text
    assert "logging in again" in caplog.text  # the adapter does log what happened, without the values
    assert not os.path.exists("mconnect.log")  # the SDK's own request log file is never created
