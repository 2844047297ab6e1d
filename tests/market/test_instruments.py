"""Watch lists: /api/instruments (known markets only, once per user, tenancy) and the price alerts they carry (one
ticker per market, each alert fires once, re-armed by an edit)."""

from decimal import Decimal

import pytest

from market import services
from market.models import Instrument
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def add(client, **body):
    return client.post("/api/instruments", {"exchange": "luno", "symbol": "BTC/ZAR", **body}, format="json")


def test_create_list_update_delete(auth_client):
    created = add(auth_client, symbol="eth/zar", notes="watch the breakout", alert_above="60000", alert_below=40000)
    assert created.status_code == 201, created.content
    item = created.json()["instrument"]
    assert (item["exchange"], item["symbol"], item["notes"]) == ("luno", "ETH/ZAR", "watch the breakout")
    assert (item["alert_above"], item["alert_below"], item["alert_above_fired_at"]) == (60000.0, 40000.0, None)
    listed = auth_client.get("/api/instruments").json()
    assert listed["success"] is True and listed["total"] == 1 and listed["instruments"] == [item]

    changed = auth_client.put(f"/api/instruments/{item['id']}", {"notes": "", "alert_below": None}, format="json")
    assert changed.status_code == 200, changed.content
    after = changed.json()["instrument"]
    assert (after["notes"], after["alert_below"], after["alert_above"]) == ("", None, 60000.0)

    moved = auth_client.put(
        f"/api/instruments/{item['id']}", {"exchange": "binance", "symbol": "SOL/USDT"}, format="json"
    )
    assert moved.json()["instrument"]["exchange"] == "binance" and moved.json()["instrument"]["symbol"] == "SOL/USDT"

    assert auth_client.delete(f"/api/instruments/{item['id']}").json()["success"] is True
    assert auth_client.get("/api/instruments").json()["total"] == 0
    assert_error(auth_client.delete(f"/api/instruments/{item['id']}"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"exchange": "mtgox"}, "exchange"),
        ({"symbol": "DOGE/ZAR"}, "symbol"),
        ({"symbol": "BTC/USDT"}, "symbol"),  # a market, but not on Luno
        ({"symbol": ""}, "symbol"),
        ({"alert_above": -5}, "alert_above"),
        ({"alert_above": 0}, "alert_above"),
        ({"alert_above": "much"}, "alert_above"),
        ({"alert_below": True}, "alert_below"),
        ({"alert_above": 100, "alert_below": 100}, "alert_below"),
        ({"notes": "x" * 501}, "notes"),
    ],
)
def test_unknown_markets_and_bad_levels_are_field_errors(auth_client, body, field):
    error = assert_error(add(auth_client, **body), 400, "VALIDATION_ERROR")
    assert field in error["details"], error
    assert not Instrument.objects.exists()


def test_a_market_is_watched_once_per_user(auth_client, other_client):
    assert add(auth_client).status_code == 201
    error = assert_error(add(auth_client, symbol="btc/zar"), 400, "VALIDATION_ERROR")
    assert "symbol" in error["details"]
    assert add(other_client).status_code == 201  # another user's list is their own
    second = add(auth_client, symbol="ETH/ZAR").json()["instrument"]
    moved = auth_client.put(f"/api/instruments/{second['id']}", {"symbol": "BTC/ZAR"}, format="json")
    assert "symbol" in assert_error(moved, 400, "VALIDATION_ERROR")["details"]
    bad = auth_client.put(f"/api/instruments/{second['id']}", {"alert_above": 10, "alert_below": 20}, format="json")
    assert "alert_below" in assert_error(bad, 400, "VALIDATION_ERROR")["details"]


def test_the_watch_list_is_bounded(user, auth_client, monkeypatch):
    monkeypatch.setattr(services, "MAX_INSTRUMENTS", 2)
    assert add(auth_client, symbol="BTC/ZAR").status_code == 201
    assert add(auth_client, symbol="ETH/ZAR").status_code == 201
    assert_error(add(auth_client, symbol="XRP/ZAR"), 400, "VALIDATION_ERROR")


def test_other_users_instruments_are_not_found(auth_client, other_client):
    item = add(auth_client, notes="mine").json()["instrument"]
    assert_error(
        other_client.put(f"/api/instruments/{item['id']}", {"notes": "pwned"}, format="json"), 404, "NOT_FOUND"
    )
    assert_error(other_client.delete(f"/api/instruments/{item['id']}"), 404, "NOT_FOUND")
    assert other_client.get("/api/instruments").json()["instruments"] == []
    assert Instrument.objects.get().notes == "mine"


def test_a_read_only_api_key_cannot_change_the_watch_list(user):
    from rest_framework.test import APIClient

    from accounts.models import ApiKey

    _key, raw = ApiKey.generate(user, "reader", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/instruments").status_code == 200
    assert_error(add(client), 403, "PERMISSION_DENIED")


# --- price alerts ----------------------------------------------------------------------------------------------------


class Tickers:
    """market_data() stand-in: set prices per (exchange, symbol), count the fetches."""

    def __init__(self, monkeypatch):
        self.prices, self.fetches = {}, []
        outer = self

        class Feed:
            def __init__(self, exchange):
                self.exchange = exchange

            def fetch_ticker(self, symbol):
                outer.fetches.append((self.exchange, symbol))
                price = outer.prices[(self.exchange, symbol)]
                if isinstance(price, Exception):
                    raise price
                return {"symbol": symbol, "last": price, "bid": price, "ask": price}

        monkeypatch.setattr(services, "market_data", lambda exchange, source=None: Feed(exchange))


@pytest.fixture
def tickers(monkeypatch):
    return Tickers(monkeypatch)


@pytest.fixture
def published(monkeypatch):
    from realtime import events

    sent = []
    monkeypatch.setattr(events, "_send", lambda user_id, kind, payload: sent.append((user_id, kind, payload)))
    return sent


@pytest.fixture
def check(django_capture_on_commit_callbacks):
    """One run of the alert check, its on-commit publishing included (the test runs inside a transaction)."""

    def run(task=services.check_price_alerts):
        with django_capture_on_commit_callbacks(execute=True):
            return task()

    return run


def watch(user, symbol="BTC/ZAR", **levels):
    return services.create_instrument(user, exchange="luno", symbol=symbol, **levels)


def test_an_alert_fires_once_with_one_ticker_per_market(user, other_user, tickers, published, check):
    mine = watch(user, alert_above=Decimal("1000000"))
    theirs = watch(other_user, alert_below=Decimal("900000"))
    idle = watch(user, symbol="ETH/ZAR")  # no levels: its market is not fetched
    tickers.prices[("luno", "BTC/ZAR")] = 950_000.0
    assert check() == 0
    assert tickers.fetches == [("luno", "BTC/ZAR")]  # one fetch for both users' instruments

    tickers.prices[("luno", "BTC/ZAR")] = 1_000_000.0
    assert check() == 1
    mine.refresh_from_db()
    assert mine.alert_above_fired_at is not None and mine.alert_above_fired_price == Decimal("1000000")
    alerts = [(uid, p) for uid, kind, p in published if kind == "alert"]
    assert len(alerts) == 1 and alerts[0][0] == user.pk
    payload = alerts[0][1]
    assert payload["instrument_id"] == str(mine.pk) and payload["direction"] == "above" and payload["level"] == "info"
    assert "BTC/ZAR" in payload["message"] and "1000000" in payload["message"]

    tickers.prices[("luno", "BTC/ZAR")] = 1_100_000.0
    assert check() == 0  # fired once, not again

    tickers.prices[("luno", "BTC/ZAR")] = 850_000.0
    assert check() == 1  # the other user's level
    assert [uid for uid, kind, _ in published if kind == "alert"] == [user.pk, other_user.pk]
    theirs.refresh_from_db()
    assert theirs.alert_below_fired_price == Decimal("850000")
    idle.refresh_from_db()
    assert idle.alert_above_fired_at is None and ("luno", "ETH/ZAR") not in tickers.fetches


def test_editing_a_level_re_arms_it(user, auth_client, tickers, published, check):
    item = add(auth_client, alert_above="1000000").json()["instrument"]
    tickers.prices[("luno", "BTC/ZAR")] = 1_200_000.0
    assert check() == 1
    fired = auth_client.get("/api/instruments").json()["instruments"][0]
    assert fired["alert_above_fired_at"] and fired["alert_above_fired_price"] == 1200000.0
    assert check() == 0
    # Editing something else keeps it fired.
    auth_client.put(f"/api/instruments/{item['id']}", {"notes": "still"}, format="json")
    assert check() == 0
    # Setting the level (again) re-arms it.
    rearmed = auth_client.put(f"/api/instruments/{item['id']}", {"alert_above": "1100000"}, format="json").json()
    assert rearmed["instrument"]["alert_above_fired_at"] is None
    assert check() == 1
    assert len([1 for _, kind, _ in published if kind == "alert"]) == 2


def test_a_failing_market_does_not_stop_the_others(user, tickers, published, check):
    watch(user, symbol="BTC/ZAR", alert_above=Decimal("1"))
    watch(user, symbol="ETH/ZAR", alert_above=Decimal("1"))
    tickers.prices[("luno", "BTC/ZAR")] = RuntimeError("exchange down")
    tickers.prices[("luno", "ETH/ZAR")] = 50_000.0
    assert check() == 1
    assert Instrument.objects.get(symbol="BTC/ZAR").alert_above_fired_at is None


def test_the_task_checks_on_the_simulated_feed(user, published, check):
    """The beat task end to end on the real (simulated) feed: a level far below the price fires."""
    from market.tasks import check_price_alerts

    watch(user, alert_above=Decimal("1"), alert_below=None)
    assert check(check_price_alerts) == 1
    assert [kind for _, kind, _ in published] == ["alert"]
    assert Instrument.objects.get().alert_above_fired_price > 1


def test_watched_markets_feed_the_scan(user, other_user):
    from market.selectors import watched_markets

    watch(user, symbol="BTC/ZAR")
    watch(other_user, symbol="BTC/ZAR")
    services.create_instrument(other_user, exchange="binance", symbol="eth/usdt")
    assert watched_markets() == [("binance", "ETH/USDT"), ("luno", "BTC/ZAR")]
    assert watched_markets(user) == [("luno", "BTC/ZAR")]


def test_the_embedded_scheduler_runs_the_alerts_and_the_prune(monkeypatch):
    import threading

    from bots import scheduler

    names = [task.name for task, _ in scheduler.EmbeddedScheduler().periodic()]
    assert names == ["market.check_price_alerts", "bots.prune_signals", "market.scan", "market.refresh_indices"]

    ran = {"alerts": threading.Event(), "prune": threading.Event()}

    class Task:
        def __init__(self, name):
            self.name = name

        def __call__(self):
            ran[self.name].set()

    monkeypatch.setattr(scheduler.EmbeddedScheduler, "periodic", lambda self: [(Task("alerts"), 1), (Task("prune"), 1)])
    monkeypatch.setattr("bots.tasks.dispatch_ticks", lambda: 0)
    monkeypatch.setattr("trading.tasks.sync_open_orders", lambda: 0)
    thread = scheduler.EmbeddedScheduler(tick_every=0.1)
    thread.start()
    try:
        assert ran["alerts"].wait(5) and ran["prune"].wait(5)
    finally:
        thread.stop()
        thread.join(5)


def test_options_describes_the_update_fields_of_ones_own_instrument(auth_client, other_client):
    item = add(auth_client).json()["instrument"]
    described = auth_client.options(f"/api/instruments/{item['id']}")
    assert described.status_code == 200 and "alert_above" in described.json()["actions"]["PUT"]
    assert_error(other_client.options(f"/api/instruments/{item['id']}"), 404, "NOT_FOUND")


def test_every_beat_entry_names_a_registered_task(settings):
    from amarktai.celery import app

    app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"market.check_price_alerts", "bots.prune_signals", "market.scan", "market.refresh_indices"} <= names
    assert names <= set(app.tasks), names - set(app.tasks)
