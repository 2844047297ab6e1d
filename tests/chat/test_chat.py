"""AI chat: contract shapes, answers from the user's real data, confirmed actions with one-time tokens, history."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from bots.models import Bot
from chat import services
from chat.models import ChatMessage, PendingAction
from realtime.events import events_since
from tests.chat.factories import make_bot, make_position, make_trade
from tests.helpers import assert_error, client_for
from trading.models import Trade

pytestmark = pytest.mark.django_db

CHAT = "/api/ai/chat"
ACTION_KEYS = {"type", "description", "bot_ids", "confirmation_token", "expires_at"}


def say(client, message):
    response = client.post(CHAT, {"message": message}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"success", "response", "requires_confirmation", "actions"}
    assert body["success"] is True and isinstance(body["response"], str) and body["response"]
    return body


def confirm(client, token):
    return client.post(CHAT, {"confirm": token}, format="json")


# ------------------------------------------------------------------ shapes and validation


def test_portfolio_answer_uses_real_numbers(auth_client, user):
    make_bot(user, "Alpha Trader", capital="1000", profit="50")
    make_bot(user, "Beta", status="paused", capital="2000", profit="-20")
    body = say(auth_client, "What is my current portfolio status?")
    assert body["requires_confirmation"] is False and body["actions"] == []
    text = body["response"]
    assert "1 active bot of 2" in text and "(1 paused)" in text
    assert "+R30.00" in text  # 50 - 20
    assert "R3,030.00" in text  # 1050 + 1980


def test_chat_message_endpoint_shape(auth_client, user):
    make_bot(user, "Alpha Trader")
    response = auth_client.post("/api/chat/message", {"message": "Check my bots"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "response", "timestamp"}
    assert body["success"] is True and body["timestamp"].endswith("Z")
    assert "Alpha Trader" in body["response"] and "1 active bot of 1" in body["response"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"message": ""},
        {"message": "   "},
        {"message": "x" * 2001},
        {"message": "hi", "confirm": "abc"},
        {"message": ["a"]},
        {"confirm": ""},
    ],
)
def test_invalid_chat_payloads(auth_client, payload):
    assert_error(auth_client.post(CHAT, payload, format="json"), 400, "VALIDATION_ERROR")


def test_chat_message_requires_message(auth_client):
    assert_error(auth_client.post("/api/chat/message", {}, format="json"), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "method,path",
    [
        ("post", CHAT),
        ("post", "/api/chat/message"),
        ("get", "/api/ai/chat/history"),
        ("post", "/api/ai/chat/greeting"),
        ("post", "/api/ai/chat/clear"),
    ],
)
def test_anonymous_is_rejected(api_client, method, path):
    assert_error(getattr(api_client, method)(path, {}, format="json"), 401, "AUTH_REQUIRED")


# ------------------------------------------------------------------ answers from data


def test_bot_detail_trades_win_rate_exposure_and_balances(auth_client, user):
    from trading.models import PaperBalance

    alpha = make_bot(user, "Alpha Trader", profit="12.5")
    make_trade(user, alpha, "buy", "0.01", "1000000")
    make_trade(user, alpha, "sell", "0.01", "1010000", profit_loss="10")
    make_trade(user, alpha, "sell", "0.01", "1020000", profit_loss="5")
    make_trade(user, alpha, "sell", "0.01", "990000", profit_loss="-3")
    make_position(user, alpha, "0.001", "1000000")  # R1,000 at entry of R1,012.50 capital
    PaperBalance.objects.create(user=user, platform="luno", currency="ZAR", free=Decimal("900"), used=Decimal("100"))

    detail = say(auth_client, "How is alpha trader doing?")["response"]
    assert "Alpha Trader" in detail and "+R12.50" in detail and "66.67%" in detail

    trades = say(auth_client, "show recent trades")["response"]
    assert "last 4 trades" in trades and "sell 0.01 BTC/ZAR @ 990,000.00" in trades and "-R3.00" in trades

    win = say(auth_client, "what is my win rate?")["response"]
    assert "66.67%" in win and "2 winning and 1 losing of 3 closed trades" in win

    exposure = say(auth_client, "what is my exposure")["response"]
    assert "1 open position" in exposure and "R1,000.00" in exposure and "98.77%" in exposure

    balances = say(auth_client, "show my balances")["response"]
    luno = next(line for line in balances.splitlines() if line.startswith("• luno:"))
    assert "paper trading balances" in balances and "1000 ZAR" in luno


def test_answers_never_include_other_users_data(auth_client, user, other_user):
    secret = make_bot(other_user, "Secret Sauce", profit="999")
    make_trade(other_user, secret, "sell", "1", "1", profit_loss="999")
    for question in [
        "Check my bots",
        "show recent trades",
        "portfolio status",
        "how is Secret Sauce doing",
        "what is my win rate",
    ]:
        text = say(auth_client, question)["response"]
        assert "Secret" not in text and "999" not in text
    body = say(auth_client, "pause Secret Sauce")
    assert body["requires_confirmation"] is False and body["actions"] == []
    assert not PendingAction.objects.exists()


def test_unknown_command_lists_capabilities(auth_client):
    body = say(auth_client, "make me a sandwich")
    assert body["requires_confirmation"] is False
    assert body["response"].startswith("I can't answer that yet.") and "Pause Alpha Trader" in body["response"]


# ------------------------------------------------------------------ confirmed actions


def test_pause_needs_confirmation_and_runs_once(auth_client, user, django_capture_on_commit_callbacks):
    alpha = make_bot(user, "Alpha Trader")
    other = make_bot(user, "Beta")
    body = say(auth_client, "Pause Alpha Trader")
    assert body["requires_confirmation"] is True
    [action] = body["actions"]
    assert set(action) == ACTION_KEYS
    assert action["type"] == "pause_bots" and action["bot_ids"] == [str(alpha.id)]
    assert "Alpha Trader" in action["description"] and action["expires_at"].endswith("Z")
    expires = timezone.datetime.fromisoformat(action["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=4) < expires - timezone.now() <= timedelta(minutes=5)
    alpha.refresh_from_db()
    assert alpha.status == "active"  # nothing happens before confirmation
    assert PendingAction.objects.get().token_hash != action["confirmation_token"]  # only a hash is stored

    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(auth_client, action["confirmation_token"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"success", "response", "requires_confirmation", "actions"}
    assert body["requires_confirmation"] is False and "Paused Alpha Trader" in body["response"]
    alpha.refresh_from_db()
    other.refresh_from_db()
    assert alpha.status == "paused" and other.status == "active"
    events = [e for e in events_since(user.id, 0) if e["event"] == "bot_update"]
    assert [e["payload"]["bot_id"] for e in events] == [str(alpha.id)]
    assert events[0]["payload"]["status"] == "paused"

    # replay: refused, and nothing runs again
    Bot.objects.filter(pk=alpha.pk).update(status="active")
    assert_error(confirm(auth_client, action["confirmation_token"]), 409, "CONFLICT")
    alpha.refresh_from_db()
    assert alpha.status == "active"


def test_token_of_another_user_is_not_found(auth_client, other_client, user):
    alpha = make_bot(user, "Alpha Trader")
    token = say(auth_client, "pause alpha trader")["actions"][0]["confirmation_token"]
    assert_error(confirm(other_client, token), 404, "NOT_FOUND")
    alpha.refresh_from_db()
    assert alpha.status == "active"
    assert confirm(auth_client, token).status_code == 200  # still usable by its owner
    alpha.refresh_from_db()
    assert alpha.status == "paused"


def test_expired_and_unknown_tokens(auth_client, user):
    alpha = make_bot(user, "Alpha Trader")
    token = say(auth_client, "pause Alpha Trader")["actions"][0]["confirmation_token"]
    PendingAction.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(confirm(auth_client, token), 400, "VALIDATION_ERROR")
    assert_error(confirm(auth_client, "not-a-token"), 404, "NOT_FOUND")
    alpha.refresh_from_db()
    assert alpha.status == "active"


def test_resume_all_bots_only_targets_paused(auth_client, user):
    a = make_bot(user, "Alpha", status="paused")
    b = make_bot(user, "Beta", status="paused")
    c = make_bot(user, "Gamma", status="active")
    [action] = say(auth_client, "resume all bots")["actions"]
    assert sorted(action["bot_ids"]) == sorted([str(a.id), str(b.id)])
    assert confirm(auth_client, action["confirmation_token"]).status_code == 200
    assert set(Bot.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("status", flat=True)) == {"active"}


def test_nothing_to_do_needs_no_confirmation(auth_client, user):
    make_bot(user, "Alpha", status="paused")
    body = say(auth_client, "pause Alpha")
    assert body["requires_confirmation"] is False and "already paused" in body["response"]


def test_switch_risk_mode(auth_client, user):
    beta = make_bot(user, "Beta")
    make_bot(user, "Alpha Trader")
    [action] = say(auth_client, "switch bot Beta to safe mode")["actions"]
    assert action["type"] == "set_risk_mode" and action["bot_ids"] == [str(beta.id)]
    beta.refresh_from_db()
    assert beta.risk_mode == "balanced"
    assert confirm(auth_client, action["confirmation_token"]).status_code == 200
    beta.refresh_from_db()
    assert beta.risk_mode == "safe"


def test_increase_position_size_for_all_bots(auth_client, user):
    balanced = make_bot(user, "Alpha Trader")  # 20% of capital per position
    safe = make_bot(user, "Beta", risk_mode="safe")  # 10%
    body = say(auth_client, "increase position size by 20%")
    [action] = body["actions"]
    assert action["type"] == "adjust_position_size"
    assert sorted(action["bot_ids"]) == sorted([str(balanced.id), str(safe.id)])
    assert "20% → 24%" in action["description"] and "10% → 12%" in action["description"]
    assert confirm(auth_client, action["confirmation_token"]).status_code == 200
    balanced.refresh_from_db()
    safe.refresh_from_db()
    assert balanced.params["position_pct"] == pytest.approx(0.24)
    assert safe.params["position_pct"] == pytest.approx(0.12)


def test_ambiguous_and_unknown_bot_references(auth_client, user):
    make_bot(user, "Beta One")
    make_bot(user, "Beta Two")
    body = say(auth_client, "pause beta")
    assert body["requires_confirmation"] is False and body["actions"] == []
    assert "Beta One" in body["response"] and "Beta Two" in body["response"] and "Which one" in body["response"]
    body = say(auth_client, "pause zeta")
    assert body["requires_confirmation"] is False and "couldn't find" in body["response"]
    body = say(auth_client, "pause")
    assert "Which bot" in body["response"] and "Beta One" in body["response"]
    assert not PendingAction.objects.exists()


def test_fuzzy_bot_name_with_typo(auth_client, user):
    alpha = make_bot(user, "Alpha Trader")
    make_bot(user, "Gamma Scalper")
    [action] = say(auth_client, "please pause alpha trdaer")["actions"]
    assert action["bot_ids"] == [str(alpha.id)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_confirm_executes_once(make_user):
    user = make_user()
    bot = make_bot(user, "Alpha Trader")
    reply = services.handle_message(user, "increase position size by 50%")
    token = reply["actions"][0]["confirmation_token"]
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            services.confirm_action(user, token)
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes.count("ok") == 1, outcomes
    bot.refresh_from_db()
    assert bot.params["position_pct"] == pytest.approx(0.30)  # 20% * 1.5 once, not twice


# ------------------------------------------------------------------ history


def test_history_oldest_first_with_limit(auth_client):
    say(auth_client, "help")
    say(auth_client, "Check my bots")
    body = auth_client.get("/api/ai/chat/history").json()
    assert set(body) == {"success", "messages"} and body["success"] is True
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in messages[::2]] == ["help", "Check my bots"]
    assert all(set(m) == {"role", "content", "timestamp"} and m["timestamp"].endswith("Z") for m in messages)
    newest = auth_client.get("/api/ai/chat/history?limit=2").json()["messages"]
    assert newest[0]["content"] == "Check my bots" and len(newest) == 2


def test_history_default_and_max_limit(user):
    ChatMessage.objects.bulk_create([ChatMessage(user=user, role="user", content=f"m{i}") for i in range(520)])
    client = client_for(user)
    default = client.get("/api/ai/chat/history").json()["messages"]
    assert len(default) == 50 and default[0]["content"] == "m470" and default[-1]["content"] == "m519"
    assert len(client.get("/api/ai/chat/history?limit=5000").json()["messages"]) == 500
    for bad in ["0", "-1", "abc"]:
        assert_error(client.get(f"/api/ai/chat/history?limit={bad}"), 400, "VALIDATION_ERROR")


def test_history_and_clear_are_per_user(auth_client, other_client):
    say(auth_client, "help")
    say(other_client, "Check my bots")
    mine = auth_client.get("/api/ai/chat/history").json()["messages"]
    assert [m["content"] for m in mine if m["role"] == "user"] == ["help"]
    response = other_client.post("/api/ai/chat/clear")
    assert response.status_code == 200 and response.json() == {"success": True, "message": "Chat history cleared"}
    assert other_client.get("/api/ai/chat/history").json()["messages"] == []
    assert len(auth_client.get("/api/ai/chat/history").json()["messages"]) == 2


def test_confirmation_is_recorded_in_history_without_token(auth_client, user):
    make_bot(user, "Alpha Trader")
    token = say(auth_client, "pause alpha trader")["actions"][0]["confirmation_token"]
    confirm(auth_client, token)
    contents = [m["content"] for m in auth_client.get("/api/ai/chat/history").json()["messages"]]
    assert contents[-2].startswith("Confirm: Pause Alpha Trader") and "Paused Alpha Trader" in contents[-1]
    assert all(token not in c for c in contents)


# ------------------------------------------------------------------ greeting and daily report


def test_greeting_daily_report_matches_trades(auth_client, user, other_user):
    alpha = make_bot(user, "Alpha Trader", capital="1000")
    beta = make_bot(user, "Beta", capital="500")
    gamma = make_bot(user, "Gamma", status="paused", last_error="3 failures in a row")
    make_trade(user, alpha, "buy", "0.01", "1000000")
    make_trade(user, alpha, "sell", "0.01", "1003000", profit_loss="30")
    make_trade(user, alpha, "sell", "0.01", "1002000", profit_loss="20")
    make_trade(user, beta, "sell", "0.01", "990000", profit_loss="-10")
    make_trade(user, alpha, "sell", "1", "1", profit_loss="100", when=timezone.now() - timedelta(hours=25))
    make_trade(other_user, make_bot(other_user, "Theirs"), "sell", "1", "1", profit_loss="999")

    response = auth_client.post("/api/ai/chat/greeting")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "greeting", "daily_report"}
    assert body["greeting"] == "Welcome back, John!"
    report = body["daily_report"]
    assert set(report) == {"summary", "highlights"}

    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    today = Trade.objects.filter(user=user, created_at__gte=start).aggregate(p=Sum("profit_loss"), n=Count("id"))
    assert today == {"p": Decimal("40"), "n": 4}
    assert report["summary"].startswith("Today your bots generated R40.00 in profit across 4 trades.")
    assert "2 of 3 bots active" in report["summary"]
    highlights = report["highlights"]
    assert "Alpha Trader gained R50.00 (+5.00%) today over 3 trades" in highlights
    assert "Beta lost R10.00 (-2.00%) today over 1 trade" in highlights
    assert "2 winning and 1 losing closed trades today" in highlights
    assert "Gamma is paused: 3 failures in a row" in highlights
    assert gamma.name == "Gamma"


def test_greeting_without_trades(auth_client):
    report = auth_client.post("/api/ai/chat/greeting").json()["daily_report"]
    assert report["summary"].startswith("You have no bots yet") and report["highlights"] == []


def test_compat_endpoint_never_proposes_actions(auth_client, user):
    alpha = make_bot(user, "Alpha Trader")
    body = auth_client.post("/api/chat/message", {"message": "pause Alpha Trader"}, format="json").json()
    assert "POST /api/ai/chat" in body["response"] and "Pause Alpha Trader" in body["response"]
    assert not PendingAction.objects.exists()
    alpha.refresh_from_db()
    assert alpha.status == "active"
