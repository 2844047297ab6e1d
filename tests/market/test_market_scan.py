"""The market scan and the reference indices: every strategy over the watched markets, ranked by confidence, cached
and served without ever calling an exchange in the request; new opportunities sent as ``signal`` to the market's
subscribers; indices computed from the cached tickers and broadcast as ``index_update``."""

import pytest

from market import indices, scan
from market.models import Instrument
from tests.realtime.conftest import run, token_for, ws_connect, ws_receive
from trading import marketcache
from trading.exchanges import LiveMarketData, SimulatedMarketData, simfeed


@pytest.fixture
def exchange_calls(monkeypatch):
    """Every call that reaches a feed (simulated or live), recorded; the feed still answers."""
    calls = []
    for cls in (SimulatedMarketData, LiveMarketData):
        for name in ("fetch_ticker", "fetch_ohlcv", "fetch_order_book", "fetch_ohlcv_since"):
            original = cls.__dict__.get(name)
            if original is None:
                continue

            def spy(self, *args, _original=original, _name=name, **kwargs):
                calls.append((_name, self.platform_id, args[:1]))
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, name, spy)
    return calls


@pytest.mark.django_db
def test_scan_before_the_first_run_is_empty(auth_client, exchange_calls):
    body = auth_client.get("/api/market/scan").json()
    assert body == {
        "success": True,
        "scanned_at": None,
        "timeframe": scan.SCAN_TIMEFRAME,
        "markets_scanned": 0,
        "opportunities": [],
    }
    assert exchange_calls == []


@pytest.mark.django_db
def test_scan_ranks_every_strategys_opportunities_and_is_served_from_the_cache(
    auth_client, user, exchange_calls, monkeypatch
):
    monkeypatch.setattr("trading.sessions.now", lambda: 1_790_000_000.0)  # the simulated feed at a fixed time
    Instrument.objects.create(user=user, exchange="binance", symbol="SOL/USDT")
    markets = scan.scan_markets()
    assert ("binance", "SOL/USDT") in markets and ("luno", "BTC/ZAR") in markets  # watch lists + defaults
    result = scan.run_scan()
    assert result["markets_scanned"] == len(markets) and result["markets_failed"] == []
    assert {c[0] for c in exchange_calls} == {"fetch_ohlcv"}  # the scan (not a request) reads candles
    found = result["opportunities"]
    assert found, "the strategies found nothing over every default market"
    confidences = [o["confidence"] for o in found]
    assert confidences == sorted(confidences, reverse=True)
    for o in found:
        assert o["signal"] in ("BUY", "SELL") and 0 <= o["confidence"] <= 100 and o["reason"]
        assert o["strategy"] in ("momentum", "breakout", "mean_reversion", "supertrend")
        # BUY: target above, stop below the entry; SELL the other way round.
        above, below = (o["target"], o["stop_loss"]) if o["signal"] == "BUY" else (o["stop_loss"], o["target"])
        assert above > o["entry_price"] > below > 0

    # The request: the cached scan, no exchange call (the feed's methods would record it; they also fail now).
    exchange_calls.clear()

    def refuse(*args, **kwargs):
        raise AssertionError("a scan request called an exchange")

    for cls in (SimulatedMarketData, LiveMarketData):
        for name in ("fetch_ticker", "fetch_ohlcv", "fetch_order_book"):
            monkeypatch.setattr(cls, name, refuse)
    monkeypatch.setattr(scan, "run_scan", refuse)
    body = auth_client.get("/api/market/scan").json()
    assert body["success"] is True and body["scanned_at"] == result["scanned_at"]
    assert body["opportunities"] == found and exchange_calls == []
    assert set(found[0]) >= {"symbol", "signal", "entry_price", "target", "stop_loss", "confidence", "reason"}


@pytest.mark.django_db
def test_a_failing_market_does_not_stop_the_scan(monkeypatch):
    original = SimulatedMarketData.fetch_ohlcv

    def flaky(self, symbol, *args, **kwargs):
        if symbol == "ETH/ZAR":
            raise RuntimeError("exchange down")
        return original(self, symbol, *args, **kwargs)

    monkeypatch.setattr(SimulatedMarketData, "fetch_ohlcv", flaky)
    result = scan.run_scan([("luno", "ETH/ZAR"), ("luno", "BTC/ZAR")])
    assert result["markets_failed"] == ["luno:ETH/ZAR"] and result["markets_scanned"] == 1


@pytest.mark.django_db(transaction=True)
def test_new_opportunities_reach_the_markets_subscribers_as_signals(user, monkeypatch):
    token = token_for(user)
    picks = iter([[], [_buy(0.91)], [_buy(0.91)]])
    monkeypatch.setattr(scan, "_evaluator", lambda exchange, symbol, rows: next(picks))

    async def scenario():
        comm = await ws_connect(token=token)
        await comm.send_json_to({"type": "subscribe", "symbols": ["luno:BTC/ZAR"]})
        assert (await ws_receive(comm))["type"] == "subscribed"
        scan.run_scan([("luno", "BTC/ZAR")])  # nothing found
        assert await comm.receive_nothing(timeout=0.3)
        scan.run_scan([("luno", "BTC/ZAR")])  # a new opportunity: one signal
        signal = await ws_receive(comm)
        assert signal["type"] == "signal" and signal["source"] == "scan"
        assert (signal["exchange"], signal["symbol"], signal["signal"], signal["confidence"]) == (
            "luno",
            "BTC/ZAR",
            "BUY",
            91.0,
        )
        assert signal["entry_price"] == 100.0 and signal["target"] == 104.0 and signal["stop_loss"] == 98.0
        scan.run_scan([("luno", "BTC/ZAR")])  # the same opportunity again: not sent twice
        assert await comm.receive_nothing(timeout=0.3)

    run(scenario)


def _buy(confidence):
    return {
        "strategy": "momentum",
        "signal": "BUY",
        "entry_price": 100.0,
        "target": 104.0,
        "stop_loss": 98.0,
        "confidence": confidence * 100,
        "reason": "EMA5 crossed above EMA20",
        "candle_ts": 1_700_000_000_000,
    }


@pytest.mark.django_db
def test_indices_from_cached_tickers_without_an_exchange(auth_client, exchange_calls):
    # Nothing cached yet: every index is listed, without a value, and no exchange is asked.
    body = auth_client.get("/api/market/indices").json()
    ids = [i["id"] for i in body["indices"]]
    assert "crypto-zar" in ids and "crypto-usdt" in ids and "stocks-alpaca" in ids
    assert all(i["value"] is None and i["constituents"] == [] for i in body["indices"]) and exchange_calls == []

    # Every ZAR asset at its reference price, 10 % up on the day: the index stands at 1000, +10 %.
    zar = {"BTC", "ETH", "XRP", "SOL"}
    for base in zar:
        reference = simfeed.ASSETS[base][0] * simfeed.QUOTES_PER_USD["ZAR"]
        for exchange in ("luno", "valr"):
            marketcache.put_ticker(
                exchange, f"{base}/ZAR", {"last": reference, "percentage": 10.0, "high": 1, "low": 1, "baseVolume": 1}
            )
    index = next(i for i in auth_client.get("/api/market/indices").json()["indices"] if i["id"] == "crypto-zar")
    assert index["value"] == pytest.approx(1000.0) and index["change_pct"] == pytest.approx(10.0)
    assert {c["asset"] for c in index["constituents"]} == zar and index["missing"] == [] and index["quote"] == "ZAR"
    assert exchange_calls == []


@pytest.mark.django_db(transaction=True)
def test_refresh_fetches_what_is_missing_and_broadcasts_index_update(user):
    token = token_for(user)

    async def scenario():
        from asgiref.sync import sync_to_async

        comm = await ws_connect(token=token)
        result = await sync_to_async(indices.refresh)()
        assert all(i["value"] is not None and i["missing"] == [] for i in result)
        received = {}
        for _ in range(len(result)):
            message = await ws_receive(comm)
            assert message["type"] == "index_update"
            received[message["id"]] = message
        assert set(received) == {i["id"] for i in result}
        usdt = next(i for i in result if i["id"] == "crypto-usdt")
        sent = received["crypto-usdt"]
        assert (sent["value"], sent["timestamp"], sent["constituents"]) == (
            usdt["value"],
            usdt["timestamp"],
            usdt["constituents"],
        )

    run(scenario)
    assert ("binance", "BNB/USDT") in marketcache.wanted()
