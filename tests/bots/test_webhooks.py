"""Signal bots' webhooks: the only unauthenticated write path. Wrong token 404, replay 409, flood 429, malformed 400,
oversize 413; every alert that reaches the bot is in its history; one order per alert, even sent twice at once."""

import json
import threading

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from bots.models import Bot, WebhookEvent
from bots.tokens import token_hash
from tests.helpers import assert_error
from trading.models import Order

SIGNAL_BOT = {
    "name": "Signal Sam",
    "exchange": "luno",
    "trading_mode": "paper",
    "initial_capital": 1000.0,
    "strategy": "signal",
    "symbol": "BTC/ZAR",
}


def make_signal_bot(client, **overrides):
    r = client.post("/api/bots", {**SIGNAL_BOT, **overrides}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    return body["bot"]["id"], body["webhook_url"].split("://", 1)[1].split("/", 1)[1]


def send(path, payload, raw=None, content_type="application/json"):
    client = APIClient()  # no login: the URL is the credential
    data = raw if raw is not None else json.dumps(payload)
    return client.generic("POST", "/" + path, data, content_type=content_type)


@pytest.mark.django_db
class TestWebhookSecurity:
    def test_url_shown_once_token_stored_hashed(self, auth_client):
        bot_id, path = make_signal_bot(auth_client)
        token = path.rsplit("/", 1)[1]
        bot = Bot.objects.get(pk=bot_id)
        assert bot.webhook_token_hash == token_hash(token) and token not in json.dumps(
            list(Bot.objects.values()), default=str
        )
        detail = auth_client.get(f"/api/bots/{bot_id}").json()["bot"]
        assert detail["webhook_enabled"] is True and token not in json.dumps(detail)
        assert token not in json.dumps(auth_client.get("/api/bots").json())

    def test_wrong_token_404(self, auth_client):
        _, path = make_signal_bot(auth_client)
        assert_error(send(path[:-2] + "xx", {"action": "buy"}), 404, "NOT_FOUND")
        assert_error(send("api/webhooks/nonsense", {"action": "buy"}), 404, "NOT_FOUND")
        assert WebhookEvent.objects.count() == 0

    def test_buy_trades_once_and_replay_is_409(self, auth_client):
        bot_id, path = make_signal_bot(auth_client)
        alert = {"action": "buy", "ticker": "BTCZAR", "price": 1000000, "id": "tv-1"}
        r = send(path, alert)
        assert r.status_code == 200, r.content
        hook = r.json()["webhook"]
        assert hook["outcome"] == "traded" and hook["order_id"] and hook["source"] == "tradingview"
        assert_error(send(path, alert), 409, "CONFLICT")
        assert Order.objects.filter(bot_id=bot_id).count() == 1
        history = auth_client.get(f"/api/bots/{bot_id}/webhooks").json()
        assert history["total"] == 2
        assert [h["code"] for h in history["webhooks"]] == ["replay", "traded"]
        detail = auth_client.get(f"/api/bots/{bot_id}").json()["bot"]
        assert detail["status"] == "active" and detail["last_decision"] == "traded_buy"

    def test_replay_without_id_uses_the_body(self, auth_client):
        bot_id, path = make_signal_bot(auth_client)
        assert send(path, {"action": "buy", "ticker": "BTC/ZAR"}).status_code == 200
        # the same alert with its keys in another order and other spacing is the same alert
        assert_error(send(path, None, raw='{ "ticker":"BTC/ZAR",  "action":"buy"}'), 409, "CONFLICT")
        assert Order.objects.filter(bot_id=bot_id).count() == 1

    def test_sell_closes_and_buy_with_position_is_ignored(self, auth_client):
        bot_id, path = make_signal_bot(auth_client)
        assert send(path, {"action": "BUY", "id": "a"}).json()["webhook"]["outcome"] == "traded"
        second = send(path, {"action": "buy", "id": "b"}).json()["webhook"]
        assert second["outcome"] == "ignored" and second["code"] == "position_open"
        closed = send(path, {"action": "close", "id": "c"}).json()["webhook"]
        assert closed["outcome"] == "traded"
        nothing = send(path, {"action": "sell", "id": "d"}).json()["webhook"]
        assert nothing["outcome"] == "ignored" and "no open position" in nothing["reason"]
        assert Order.objects.filter(bot_id=bot_id).count() == 2

    @pytest.mark.parametrize(
        "payload, raw, why",
        [
            ({"action": "hold"}, None, "unknown action"),
            ({"ticker": "BTCZAR"}, None, "action"),
            ({"action": "buy", "ticker": "ETHZAR"}, None, "this bot trades BTC/ZAR"),
            ({"action": "buy", "size": "lots"}, None, "size"),
            ({"action": "buy", "price": -5}, None, "price"),
            (None, "not json {", "not valid JSON"),
            (None, "[1, 2]", "JSON object"),
            (None, "", "empty"),
            (None, "[" * 200 + "]" * 200, ""),
            ({"stocks": "ETHZAR,XRPZAR", "trigger_prices": "1,2", "scan_name": "buy scan"}, None, "not among"),
            ({"stocks": "BTCZAR", "trigger_prices": "1", "scan_name": "momentum scan"}, None, "buy, sell or exit"),
        ],
    )
    def test_malformed_400_and_logged(self, auth_client, payload, raw, why):
        bot_id, path = make_signal_bot(auth_client)
        body = assert_error(send(path, payload, raw=raw), 400, "VALIDATION_ERROR")
        assert why in body["error"]
        event = WebhookEvent.objects.get(bot_id=bot_id)
        assert event.outcome == "rejected" and event.code == "invalid"
        assert Order.objects.count() == 0

    def test_text_plain_tradingview_body_accepted(self, auth_client):
        _, path = make_signal_bot(auth_client)
        r = send(path, None, raw='{"action": "buy", "ticker": "LUNO:BTCZAR"}', content_type="text/plain")
        assert r.status_code == 200 and r.json()["webhook"]["outcome"] == "traded"

    def test_chartink_scan_for_the_bots_symbol_trades(self, auth_client):
        _, path = make_signal_bot(auth_client)
        scan = {
            "stocks": "ETHZAR,BTCZAR",
            "trigger_prices": "40000,1000000",
            "triggered_at": "2:34 pm",
            "scan_name": "BTC breakout BUY",
            "scan_url": "btc-breakout",
            "alert_name": "Alert for BTC breakout",
        }
        hook = send(path, scan).json()["webhook"]
        assert hook["source"] == "chartink" and hook["action"] == "buy" and hook["outcome"] == "traded"
        assert hook["price"] == 1000000.0
        assert_error(send(path, scan), 409, "CONFLICT")

    @override_settings(API_MAX_BODY_BYTES=200)
    def test_oversize_413(self, auth_client):
        _, path = make_signal_bot(auth_client)
        assert_error(send(path, {"action": "buy", "note": "x" * 500}), 413, "PAYLOAD_TOO_LARGE")

    @override_settings(WEBHOOK_RATE_LIMIT=3, WEBHOOK_RATE_WINDOW_SECONDS=60)
    def test_flood_429_per_bot(self, auth_client):
        _, path = make_signal_bot(auth_client)
        _, other_path = make_signal_bot(auth_client, name="Other")
        codes = [send(path, {"action": "sell", "id": str(i)}).status_code for i in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        r = send(path, {"action": "sell", "id": "9"})
        assert_error(r, 429, "RATE_LIMIT")
        assert 1 <= int(r["Retry-After"]) <= 61
        assert send(other_path, {"action": "sell"}).status_code == 200  # the limit is per bot

    def test_paused_bot_logs_ignored(self, auth_client):
        bot_id, path = make_signal_bot(auth_client)
        auth_client.post(f"/api/bots/{bot_id}/pause")
        hook = send(path, {"action": "buy"}).json()["webhook"]
        assert hook["outcome"] == "ignored" and hook["code"] == "paused"
        assert Order.objects.count() == 0

    def test_rotate_invalidates_old_url(self, auth_client, other_client):
        bot_id, path = make_signal_bot(auth_client)
        r = auth_client.post(f"/api/bots/{bot_id}/webhook/rotate")
        assert r.status_code == 200
        new_path = r.json()["webhook_url"].split("://", 1)[1].split("/", 1)[1]
        assert new_path != path
        assert_error(send(path, {"action": "buy"}), 404, "NOT_FOUND")
        assert send(new_path, {"action": "buy"}).status_code == 200
        assert_error(other_client.post(f"/api/bots/{bot_id}/webhook/rotate"), 404, "NOT_FOUND")
        assert_error(other_client.get(f"/api/bots/{bot_id}/webhooks"), 404, "NOT_FOUND")

    def test_rotate_refused_for_indicator_bot(self, auth_client):
        r = auth_client.post("/api/bots", {**SIGNAL_BOT, "strategy": "momentum"}, format="json")
        assert "webhook_url" not in r.json()
        assert_error(auth_client.post(f"/api/bots/{r.json()['bot']['id']}/webhook/rotate"), 400, "VALIDATION_ERROR")

    def test_engine_does_not_tick_signal_bots(self, auth_client):
        from bots.scheduling import due_groups

        make_signal_bot(auth_client)
        assert due_groups() == {} or all(not ids for ids in due_groups().values())


@pytest.mark.django_db(transaction=True)
def test_duplicate_concurrent_alerts_place_one_order(auth_client):
    """Two identical alerts at the same moment: one order (the bot row lock + replay window + deterministic order
    id). Meaningful on PostgreSQL (row locks); SQLite serialises writers anyway."""
    bot_id, path = make_signal_bot(auth_client)
    alert = {"action": "buy", "ticker": "BTCZAR", "id": "dup-1"}
    results = []
    barrier = threading.Barrier(4)

    def fire():
        try:
            barrier.wait()
            results.append(send(path, alert).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Order.objects.filter(bot_id=bot_id).count() == 1
    assert sorted(results).count(200) == 1 and all(code in (200, 409) for code in results), results


@pytest.mark.django_db
def test_signal_bot_parameters_are_only_its_size(auth_client):
    bot_id, _ = make_signal_bot(auth_client, params={"position_pct": 0.1})
    assert auth_client.get(f"/api/bots/{bot_id}").json()["bot"]["effective_params"] == {"position_pct": 0.1}
    assert_error(
        auth_client.post("/api/bots", {**SIGNAL_BOT, "name": "X", "params": {"fast": 5}}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
