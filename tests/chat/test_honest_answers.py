"""The assistant says when it can't (never a bot list as a fallback), reports unrealised P&L, does not call a
just-opened position "broke even", and takes close / stop-loss commands through the commands' analysis."""

from decimal import Decimal

import pytest

from bots import engine
from bots.services import create_bot
from chat import intents, services
from chat.models import PendingAction
from tests.bots.test_engine import BUY, scaled
from tests.chat.factories import make_bot, make_position, make_trade
from trading.models import Position

pytestmark = pytest.mark.django_db


def say(client, message):
    response = client.post("/api/ai/chat", {"message": message}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    "question, opening",
    [
        ("which bot performs best?", "I can't compare or rank your bots yet"),
        ("Is Alpha better than Beta?", "I can't compare or rank your bots yet"),
        ("create a momentum bot with a 2% stop", "I can't create bots yet"),
        ("make me a safe bot", "I can't create bots yet"),
        ("what strategy does my bot use?", "I can't answer that yet."),
        ("make me a sandwich", "I can't answer that yet."),
    ],
)
def test_unsupported_questions_get_an_honest_answer_not_a_bot_list(auth_client, user, question, opening):
    make_bot(user, "Alpha", profit="12")
    make_bot(user, "Beta", profit="-3")
    body = say(auth_client, question)
    text = body["response"]
    assert text.startswith(opening), text
    assert "Here is what I can do" in text
    assert "capital R" not in text and "profit +R" not in text  # no bot list stands in for an answer
    assert body["actions"] == [] and not PendingAction.objects.exists()


def test_intents_still_list_bots_when_asked():
    assert intents.parse("Check my bots", []).kind == intents.BOTS
    assert intents.parse("list bots", []).kind == intents.BOTS
    assert intents.parse("make all bots aggressive", []).kind == intents.RISK_MODE
    assert intents.parse("show most recent trades", []).kind == intents.TRADES


def test_unrealised_pnl_is_reported(auth_client, user):
    bot = create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    text = say(auth_client, "what is my unrealised P&L?")["response"]
    assert text.startswith("Your unrealised P&L is ") and "on 1 open position at current prices" in text
    assert "• Alpha: " in text and "BTC/ZAR bought at" in text and "nothing is booked until a position is sold" in text


def test_unrealised_pnl_without_positions(auth_client, user):
    make_bot(user, "Alpha")
    text = say(auth_client, "what's my unrealized profit?")["response"]
    assert text == "You have no open positions, so there is no unrealised profit or loss."


def test_daily_summary_does_not_call_a_just_opened_position_broke_even(user):
    alpha = make_bot(user, "Alpha")
    make_trade(user, alpha, "buy", "0.01", "1000000")
    report = services.daily_report(user)
    assert report["summary"].startswith(
        "Today your bots opened positions in 1 trade; no profit or loss is booked until they close."
    )
    assert "broke even" not in " ".join(report["highlights"])
    assert report["highlights"][0] == (
        "Alpha opened a position today (1 trade); it is still open, so no profit or loss is booked yet"
    )


def test_daily_summary_with_a_closed_trade_still_counts_it(user):
    alpha = make_bot(user, "Alpha")
    make_trade(user, alpha, "buy", "0.01", "1000000")
    make_trade(user, alpha, "sell", "0.01", "1010000", profit_loss="10")
    report = services.daily_report(user)
    assert "generated R10.00 in profit across 2 trades" in report["summary"]
    assert report["highlights"][0].startswith("Alpha gained R10.00")


def test_close_position_through_the_assistant(auth_client, user):
    bot = create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    body = say(auth_client, "close Alpha's position")
    assert body["requires_confirmation"] is True and body["actions"][0]["type"] == "close_position"
    assert "Close the open position of Alpha at market" in body["response"]
    done = auth_client.post("/api/ai/chat", {"confirm": body["actions"][0]["confirmation_token"]}, format="json")
    assert "Closed the open position of Alpha" in done.json()["response"]
    assert not Position.objects.filter(bot=bot, is_open=True).exists()


def test_stop_loss_is_not_mistaken_for_stopping_the_bot(auth_client, user):
    alpha = make_bot(user, "Alpha")
    make_position(user, alpha, "0.01", "1000000")
    body = say(auth_client, "set stop loss of Alpha to 2%")
    assert body["actions"][0]["type"] == "set_stop_loss"
    assert "Set the stop loss of Alpha at 980,000.00" in body["response"]


def test_resuming_an_admin_locked_bot_says_who_and_why(auth_client, user, admin_user):
    make_bot(user, "Alpha", status="paused", paused_by_admin=True, paused_by=admin_user, pause_reason="Under review")
    body = say(auth_client, "resume Alpha")
    assert body["actions"] == []
    assert body["response"] == (
        "Alpha was paused by an administrator (Ada), reason: Under review. Only an administrator can release it; "
        "contact support to have it resumed."
    )
