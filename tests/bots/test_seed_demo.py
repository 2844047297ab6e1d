"""`make run` seeds a demo account (manage.py seed_demo) after migrating: its bots must pass the same parameter
validation as any bot created through the API, and a second run (every `make run`) changes nothing."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command

from accounts.models import User
from bots.models import Bot, BotStatus

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_demo_bots_once():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo login" in out.getvalue()
    user = User.objects.get(email=settings.DEMO_EMAIL)
    bots = Bot.objects.filter(user=user)
    assert sorted(bots.values_list("name", flat=True)) == ["Alpha Trader", "Beta Reverter", "Gamma Breakout"]
    assert set(bots.values_list("status", flat=True)) == {BotStatus.ACTIVE}
    call_command("seed_demo", stdout=io.StringIO())
    assert Bot.objects.filter(user=user).count() == 3
