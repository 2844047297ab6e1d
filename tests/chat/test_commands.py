"""Dynamic commands (issue 15): POST /api/commands parses free text into a typed command and analyses it without
applying it; POST /api/commands/confirm applies it once through the assistant's confirmed-action path; GET
/api/commands/history lists prompts, outcomes and timestamps."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bots.models import Bot
from bots.services import create_bot
from chat import commands
from chat.models import CommandRecord, PendingAction
from tests.chat.factories import make_bot, make_position
from tests.helpers import assert_error
from trading.models import Position

pytestmark = pytest.mark.django_db

ANALYSIS_KEYS = {"command_type", "action", "description", "impact", "parameters"}


def submit(client, prompt):
    return client.post("/api/commands", {"prompt": prompt}, format="json")


def analysed(client, prompt):
    response = submit(client, prompt)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True and body["status"] == "success"
    assert ANALYSIS_KEYS <= set(body["analysis"])
    return body["analysis"]


def confirm(client, token):
    return client.post("/api/commands/confirm", {"confirmation_token": token}, format="json")


@pytest.mark.parametrize(
    "prompt, kind",
    [
        ("Increase position size by 20%", "position_size"),
        ("set position size of Alpha to 15%", "position_size"),
        ("switch Beta to safe mode", "risk_mode"),
        ("pause Alpha", "pause_bots"),
        ("resume all bots", "resume_bots"),
        ("stop Beta", "stop_bots"),
        ("set stop loss of Alpha to 3%", "stop_loss"),
        ("move Alpha's take profit to 1300000", "take_profit"),
        ("close Alpha's position", "close_position"),
        ("force exit Beta", "close_position"),
        ("close all positions", "close_position"),
        ("stop all trading", "trading_stop"),
        ("kill switch", "trading_stop"),
        ("halt trading and close all positions", "trading_stop"),
    ],
)
def test_parser_types(user, prompt, kind):
    bots = [make_bot(user, "Alpha"), make_bot(user, "Beta")]
    assert commands.parse(prompt, bots).kind == kind


def test_parser_parameters(user):
    alpha = make_bot(user, "Alpha")
    assert commands.parse("halt trading and close all positions", [alpha]).params == {"close_positions": True}
    assert commands.parse("stop all trading", [alpha]).params == {"close_positions": False}
    assert commands.parse("set stop loss of Alpha to 3%", [alpha]).params == {"percent": "3"}
    assert commands.parse("take profit of Alpha at 1,300,000", [alpha]).params == {"price": "1300000"}
    assert commands.parse("pause trading on Alpha", [alpha]).kind == "pause_bots"
    assert commands.parse("what is my win rate?", [alpha]) is None


def test_analysis_is_not_applied_until_confirmed(auth_client, user):
    alpha = make_bot(user, "Alpha")
    analysis = analysed(auth_client, "Increase position size by 20%")
    assert analysis["command_type"] == "position_size" and analysis["action"] == "apply"
    assert analysis["parameters"]["adjustment"] == 20.0
    assert analysis["parameters"]["bots"] == [
        {"id": str(alpha.id), "name": "Alpha", "current_pct": 20.0, "new_pct": 24.0, "capital": 1000.0}
    ]
    assert "20% → 24%" in analysis["description"] and "Open positions are not resized" in analysis["impact"]
    assert analysis["confirmation_token"] and analysis["expires_at"].endswith("Z")
    alpha.refresh_from_db()
    assert "position_pct" not in alpha.params  # analysed, not applied

    applied = confirm(auth_client, analysis["confirmation_token"])
    assert applied.status_code == 200, applied.content
    assert applied.json()["status"] == "applied" and "Alpha 20% → 24%" in applied.json()["result"]
    alpha.refresh_from_db()
    assert alpha.params["position_pct"] == pytest.approx(0.24)
    # Exactly once.
    assert_error(confirm(auth_client, analysis["confirmation_token"]), 409, "CONFLICT")
    alpha.refresh_from_db()
    assert alpha.params["position_pct"] == pytest.approx(0.24)


def test_token_is_owner_only_and_expires(auth_client, other_client, user):
    make_bot(user, "Alpha")
    analysis = analysed(auth_client, "pause Alpha")
    assert_error(confirm(other_client, analysis["confirmation_token"]), 404, "NOT_FOUND")
    PendingAction.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(confirm(auth_client, analysis["confirmation_token"]), 400, "VALIDATION_ERROR")
    assert Bot.objects.get(name="Alpha").status == "active"
    history = auth_client.get("/api/commands/history").json()["commands"]
    assert history[0]["status"] == "expired"


def test_assistant_and_commands_share_one_confirmation_path(auth_client, user):
    make_bot(user, "Alpha")
    analysis = analysed(auth_client, "pause Alpha")
    # The assistant's confirm takes a command's token too (one machinery), and the history still records the outcome.
    response = auth_client.post("/api/ai/chat", {"confirm": analysis["confirmation_token"]}, format="json")
    assert response.status_code == 200 and "Paused Alpha" in response.json()["response"]
    assert Bot.objects.get(name="Alpha").status == "paused"
    assert auth_client.get("/api/commands/history").json()["commands"][0]["status"] == "applied"


@pytest.mark.parametrize(
    "prompt, fragment",
    [
        ("pause Gamma", 'There is no bot called "gamma". Your bots are: Alpha One, Alpha Two.'),
        ("pause Alpha", "Several bots match: Alpha One and Alpha Two. Which one do you mean?"),
        ("pause", "Which bot should I pause?"),
        ("make me rich", "I could not turn that into a command"),
        ("set stop loss of Alpha One", "Say where to put the stop loss"),
        ("set stop loss and take profit of Alpha One to 3%", "one at a time"),
    ],
)
def test_ambiguous_or_unknown_is_a_clear_error_never_a_guess(auth_client, user, prompt, fragment):
    make_bot(user, "Alpha One")
    make_bot(user, "Alpha Two")
    body = assert_error(submit(auth_client, prompt), 400, "VALIDATION_ERROR")
    assert fragment in body["error"] and body["details"]["prompt"] == [body["error"]]
    assert not PendingAction.objects.exists()
    record = CommandRecord.objects.get()
    assert record.status == "rejected" and record.outcome == body["error"]


def test_other_users_bots_are_never_resolved(auth_client, user, other_user):
    make_bot(user, "Alpha")
    make_bot(other_user, "Secret Bot")
    body = assert_error(submit(auth_client, "pause Secret Bot"), 400, "VALIDATION_ERROR")
    assert "Your bots are: Alpha." in body["error"]


def test_nothing_to_do_is_ignored_without_a_token(auth_client, user):
    make_bot(user, "Alpha", status="paused")
    analysis = analysed(auth_client, "pause Alpha")
    assert analysis["action"] == "ignore" and analysis["reason"] == "Alpha is already paused."
    assert "confirmation_token" not in analysis
    assert auth_client.get("/api/commands/history").json()["commands"][0]["status"] == "ignored"


def test_pause_impact_names_the_open_position(auth_client, user):
    alpha = make_bot(user, "Alpha")
    make_position(user, alpha, "0.01", "1000000")
    analysis = analysed(auth_client, "pause Alpha")
    assert "open position of Alpha stays open" in analysis["impact"]
    assert analysis["parameters"]["bots"][0]["open_position"] is True


def test_resume_of_an_admin_locked_bot_is_ignored(auth_client, user):
    make_bot(user, "Alpha", status="paused", paused_by_admin=True)
    analysis = analysed(auth_client, "resume Alpha")
    assert analysis["action"] == "ignore" and "only an administrator can resume it" in analysis["reason"]


def test_stop_loss_by_percent_applies_to_the_open_position(auth_client, user):
    alpha = make_bot(user, "Alpha")
    position = make_position(user, alpha, "0.01", "1000000")
    analysis = analysed(auth_client, "set stop loss of Alpha to 3%")
    assert analysis["command_type"] == "stop_loss" and analysis["parameters"]["percent"] == 3.0
    assert analysis["parameters"]["bots"][0]["new"] == 970000.0
    assert "low reaches this price" in analysis["impact"]
    applied = confirm(auth_client, analysis["confirmation_token"]).json()
    assert applied["status"] == "applied" and "Alpha at 970,000.00" in applied["result"]
    position.refresh_from_db()
    assert position.stop_loss == Decimal("970000")


def test_take_profit_without_position_is_ignored(auth_client, user):
    make_bot(user, "Alpha")
    analysis = analysed(auth_client, "set take profit of Alpha to 5%")
    assert analysis["action"] == "ignore" and "no open position" in analysis["reason"]


def test_close_position_command_sells_once(auth_client, user):
    from bots import engine
    from tests.bots.test_engine import BUY, scaled

    bot = create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    analysis = analysed(auth_client, "close Alpha's position")
    assert analysis["command_type"] == "close_position"
    row = analysis["parameters"]["bots"][0]
    assert row["name"] == "Alpha" and row["trading_mode"] == "paper" and row["unrealised_pnl"] is not None
    assert "booked to the bot" in analysis["impact"]
    applied = confirm(auth_client, analysis["confirmation_token"]).json()
    assert applied["status"] == "applied" and "Closed the open position of Alpha" in applied["result"]
    assert not Position.objects.filter(bot=bot, is_open=True).exists()
    bot.refresh_from_db()
    assert bot.total_profit != 0


def test_trading_stop_is_analysed_then_applied_through_the_kill_switch(auth_client, user):
    make_bot(user, "Alpha")
    analysis = analysed(auth_client, "stop all trading and close all positions")
    assert analysis["command_type"] == "trading_stop" and analysis["parameters"]["close_positions"] is True
    assert "Pauses every bot (1 running now)" in analysis["impact"]
    assert Bot.objects.get(name="Alpha").status == "active"  # analysed, not applied
    applied = confirm(auth_client, analysis["confirmation_token"]).json()
    assert applied["status"] == "applied" and "Trading stopped" in applied["result"]
    alpha = Bot.objects.get(name="Alpha")
    assert (alpha.status, alpha.pause_origin) == ("paused", "kill_switch")
    status = auth_client.get("/api/trading/status").json()
    assert status["trading"]["status"] == "stopped" and status["trading"]["close_positions"] is True


def test_history_is_per_user_and_paginated(auth_client, other_client, user):
    make_bot(user, "Alpha")
    for prompt in ("pause Alpha", "resume Alpha", "make me rich"):
        submit(auth_client, prompt)
    submit(other_client, "stop all trading")
    body = auth_client.get("/api/commands/history?limit=2").json()
    assert body["total"] == 3 and len(body["commands"]) == 2
    newest = body["commands"][0]
    assert newest["prompt"] == "make me rich" and newest["status"] == "rejected" and newest["command_type"] is None
    assert newest["timestamp"].endswith("Z")
    rest = auth_client.get("/api/commands/history?limit=2&offset=2").json()["commands"]
    assert [c["prompt"] for c in rest] == ["pause Alpha"] and rest[0]["status"] == "proposed"
    assert other_client.get("/api/commands/history").json()["total"] == 1


def test_stop_of_bots_already_stopped_is_ignored_in_words(auth_client, user):
    make_bot(user, "Alpha", status="stopped")
    make_bot(user, "Beta", status="stopped")
    analysis = analysed(auth_client, "stop all bots")
    assert analysis["action"] == "ignore"
    assert analysis["reason"] == "None of those bots can be stopped: they are already stopped."
