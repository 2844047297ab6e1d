"""The assistant explains why a bot did (not) trade: its last decision and reason, and a signal bot's last alert."""

import json

import pytest
from rest_framework.test import APIClient

from bots.models import Bot

pytestmark = pytest.mark.django_db
CHAT = "/api/ai/chat"


def say(client, message):
    r = client.post(CHAT, {"message": message}, format="json")
    assert r.status_code == 200, r.content
    return r.json()["response"]


def test_why_didnt_my_bot_buy_uses_its_last_decision(auth_client, user):
    Bot.objects.create(
        user=user,
        name="Steady Stacker",
        exchange="luno",
        symbol="BTC/ZAR",
        status="active",
        strategy="momentum",
        initial_capital=100,
        current_capital=100,
        last_decision="risk_limit",
        last_decision_reason="Buy signal ignored: the daily loss limit of R50.00 is reached",
    )
    Bot.objects.create(user=user, name="Other", exchange="luno", symbol="BTC/ZAR", initial_capital=1, current_capital=1)
    text = say(auth_client, "Why didn't Steady Stacker buy?")
    assert "Steady Stacker" in text and "risk limit" in text and "daily loss limit of R50.00" in text
    assert "Which bot" in say(auth_client, "why didn't my bot trade?")  # two bots: it asks which


def test_signal_bot_explained_by_its_last_alert(auth_client):
    r = auth_client.post(
        "/api/bots",
        {"name": "Signal Sam", "exchange": "luno", "initial_capital": 100.0, "strategy": "signal"},
        format="json",
    )
    path = "/" + r.json()["webhook_url"].split("://", 1)[1].split("/", 1)[1]
    text = say(auth_client, "why hasn't my bot traded?")  # the only bot
    assert "Signal Sam" in text and "No alert has reached its webhook yet" in text
    APIClient().generic(
        "POST", path, json.dumps({"action": "buy", "ticker": "ETHZAR"}), content_type="application/json"
    )
    text = say(auth_client, "Why didn’t Signal Sam buy?")  # noqa: RUF001 - a phone's apostrophe
    assert "rejected" in text and "this bot trades BTC/ZAR" in text
