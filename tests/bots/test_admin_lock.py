"""Admin pause is a lock: the owner cannot resume the bot (409 BOT_LOCKED_BY_ADMIN) until an admin releases it; the
owner sees who paused it (a display name, never the admin's email) and why; the engine never ticks it."""

from decimal import Decimal

import pytest
from django.utils import timezone

from bots import engine, scheduling
from bots.models import Bot
from bots.services import create_bot, set_status
from tests.bots.test_engine import BUY, scaled
from tests.helpers import assert_error


@pytest.fixture
def bot(user):
    return create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")


def lock(admin_client, bot, reason="Unusual order volume"):
    response = admin_client.post(f"/api/admin/bot/{bot.pk}/pause", {"reason": reason}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_owner_cannot_resume_an_admin_locked_bot(auth_client, admin_client, bot):
    body = lock(admin_client, bot)
    assert body == {"success": True, "bot_id": str(bot.pk), "status": "paused", "admin_locked": True}
    error = assert_error(auth_client.post(f"/api/bots/{bot.pk}/resume"), 409, "BOT_LOCKED_BY_ADMIN")
    assert error["error"] == (
        "Alpha was paused by an administrator (Ada), reason: Unusual order volume. "
        "Only an administrator can release it; contact support to have it resumed."
    )
    assert error["details"] == {"paused_by": ["an administrator (Ada)"], "pause_reason": ["Unusual order volume"]}
    bot.refresh_from_db()
    assert bot.status == "paused" and bot.paused_by_admin


@pytest.mark.django_db
def test_owner_sees_who_and_why_never_the_email(auth_client, admin_client, admin_user, bot):
    lock(admin_client, bot)
    detail = auth_client.get(f"/api/bots/{bot.pk}").json()["bot"]
    assert detail["admin_lock"]["paused_by"] == "an administrator (Ada)"
    assert detail["admin_lock"]["reason"] == "Unusual order volume"
    assert detail["admin_lock"]["paused_at"].endswith("Z")
    listed = auth_client.get("/api/bots").json()["bots"][0]
    assert listed["admin_lock"] == detail["admin_lock"]
    assert admin_user.email not in str(detail)


@pytest.mark.django_db
def test_admin_without_a_first_name_is_just_an_administrator(auth_client, make_user, bot):
    from tests.helpers import client_for

    anonymous_admin = make_user(first_name="", is_admin=True, is_staff=True)
    lock(client_for(anonymous_admin), bot, reason="")
    detail = auth_client.get(f"/api/bots/{bot.pk}").json()["bot"]
    assert detail["admin_lock"] == {
        "paused_by": "an administrator",
        "reason": "",
        "paused_at": detail["admin_lock"]["paused_at"],
    }


@pytest.mark.django_db
def test_engine_and_dispatcher_skip_a_locked_bot(admin_client, bot):
    lock(admin_client, bot)
    # Even a status forced back to active by some other path does not make the engine trade a locked bot.
    Bot.objects.filter(pk=bot.pk).update(status="active")
    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "skipped"
    assert not scheduling.due_bots(timezone.now()).filter(pk=bot.pk).exists()


@pytest.mark.django_db
def test_set_status_refuses_to_activate_a_locked_bot(admin_client, bot):
    from amarktai.errors import BotLockedByAdmin

    lock(admin_client, bot)
    bot.refresh_from_db()
    with pytest.raises(BotLockedByAdmin):
        set_status(bot, "active")


@pytest.mark.django_db
def test_admin_unlock_lets_the_owner_resume(auth_client, admin_client, bot):
    lock(admin_client, bot)
    released = admin_client.post(f"/api/admin/bot/{bot.pk}/unlock", {}, format="json")
    assert released.json() == {"success": True, "bot_id": str(bot.pk), "status": "paused", "admin_locked": False}
    assert auth_client.get(f"/api/bots/{bot.pk}").json()["bot"]["admin_lock"] is None
    resumed = auth_client.post(f"/api/bots/{bot.pk}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"


@pytest.mark.django_db
def test_admin_unlock_and_resume_at_once(admin_client, bot):
    lock(admin_client, bot)
    released = admin_client.post(f"/api/admin/bot/{bot.pk}/unlock", {"resume": True}, format="json")
    assert released.json()["status"] == "active" and released.json()["admin_locked"] is False


@pytest.mark.django_db
def test_owner_pause_is_not_a_lock(auth_client, bot):
    assert auth_client.post(f"/api/bots/{bot.pk}/pause").json()["status"] == "paused"
    assert auth_client.get(f"/api/bots/{bot.pk}").json()["bot"]["admin_lock"] is None
    assert auth_client.post(f"/api/bots/{bot.pk}/resume").json()["status"] == "active"


@pytest.mark.django_db
def test_unlock_is_admin_only_and_audited(auth_client, admin_client, bot):
    from accounts.models import AuditLog

    assert_error(auth_client.post(f"/api/admin/bot/{bot.pk}/unlock", {}, format="json"), 403, "PERMISSION_DENIED")
    lock(admin_client, bot)
    admin_client.post(f"/api/admin/bot/{bot.pk}/unlock", {}, format="json")
    actions = list(AuditLog.objects.filter(target_id=str(bot.pk)).values_list("action", flat=True))
    assert "bot.pause" in actions and "bot.unlock" in actions
