"""Admins read any user's bot page data (GET /api/admin/bot/{id}, .../round-trips, .../equity), audited; nobody else."""

import uuid
from datetime import timedelta

import pytest

from accounts.models import AuditLog
from tests.helpers import assert_error
from tests.trading.test_round_trips import T0, fill, plain_bot


@pytest.fixture
def owned_bot(user):
    bot = plain_bot(user, "Owned")
    fill(user, bot, "buy", "0.01", "1000", "0.1", at=T0)
    fill(user, bot, "sell", "0.01", "1100", "0.1", at=T0 + timedelta(hours=1))
    return bot


@pytest.mark.django_db
def test_admin_reads_another_users_bot(admin_client, owned_bot, user):
    base = f"/api/admin/bot/{owned_bot.pk}"
    bot = admin_client.get(base).json()["bot"]
    assert bot["id"] == str(owned_bot.pk) and bot["user_email"] == user.email and bot["activity"]["state"] == "paused"
    trips = admin_client.get(f"{base}/round-trips").json()
    assert trips["total"] == 1 and trips["round_trips"][0]["profit_loss"] == pytest.approx(1 - 0.2)
    equity = admin_client.get(f"{base}/equity").json()
    assert [p["profit"] for p in equity["points"]] == [0.0, 0.8]
    assert sorted(AuditLog.objects.values_list("action", flat=True)) == ["bot.equity", "bot.round_trips", "bot.view"]
    assert_error(admin_client.get(f"/api/admin/bot/{uuid.uuid4()}"), 404, "NOT_FOUND")
    assert_error(admin_client.get(f"{base}/round-trips?limit=0"), 400, "VALIDATION_ERROR")


@pytest.mark.django_db
def test_users_cannot(auth_client, other_client, owned_bot):
    for client in (auth_client, other_client):  # not even the owner: theirs is /api/bots/{id}
        for suffix in ("", "/round-trips", "/equity"):
            assert_error(client.get(f"/api/admin/bot/{owned_bot.pk}{suffix}"), 403, "PERMISSION_DENIED")
    assert not AuditLog.objects.exists()
