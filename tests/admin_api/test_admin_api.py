"""Admin endpoints: admins only, every user's data, audit log, owner notified of an admin pause."""

import pytest

from accounts.models import AuditLog
from realtime.events import events_since
from tests.chat.factories import make_bot
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

BOT_KEYS = {
    "id",
    "name",
    "exchange",
    "status",
    "trading_mode",
    "risk_mode",
    "initial_capital",
    "current_capital",
    "total_profit",
    "profit_percentage",
    "created_at",
}


def admin_endpoints(bot_id):
    return [("get", "/api/admin/users"), ("get", "/api/admin/bots"), ("post", f"/api/admin/bot/{bot_id}/pause")]


def test_non_admins_get_403_and_anonymous_401(auth_client, api_client, user):
    bot = make_bot(user, "Alpha")
    for method, path in admin_endpoints(bot.id):
        assert_error(getattr(auth_client, method)(path), 403, "PERMISSION_DENIED")
        assert_error(getattr(api_client, method)(path), 401, "AUTH_REQUIRED")
    bot.refresh_from_db()
    assert bot.status == "active"
    assert not AuditLog.objects.exists()


def test_list_users(admin_client, admin_user, user, other_user):
    response = admin_client.get("/api/admin/users")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "users"} and body["success"] is True
    by_email = {u["email"]: u for u in body["users"]}
    assert set(by_email) == {admin_user.email, user.email, other_user.email}
    john = by_email[user.email]
    assert set(john) == {"id", "email", "first_name", "is_admin", "created_at"}
    assert john == {
        "id": str(user.id),
        "email": user.email,
        "first_name": "John",
        "is_admin": False,
        "created_at": john["created_at"],
    }
    assert john["created_at"].endswith("Z") and by_email[admin_user.email]["is_admin"] is True
    log = AuditLog.objects.get()
    assert log.actor == admin_user and log.action == "users.list" and log.details["count"] == 3


def test_list_bots_across_users_with_filter(admin_client, user, other_user):
    mine = make_bot(user, "Alpha", profit="50")
    theirs = make_bot(other_user, "Beta")
    body = admin_client.get("/api/admin/bots").json()
    assert body["success"] is True
    assert {b["id"] for b in body["bots"]} == {str(mine.id), str(theirs.id)}
    item = next(b for b in body["bots"] if b["id"] == str(mine.id))
    assert BOT_KEYS | {"user_id", "user_email"} <= set(item)
    assert item["user_id"] == str(user.id) and item["user_email"] == user.email
    assert item["total_profit"] == 50.0 and item["profit_percentage"] == 5.0

    filtered = admin_client.get(f"/api/admin/bots?user_id={other_user.id}").json()["bots"]
    assert [b["id"] for b in filtered] == [str(theirs.id)]
    assert_error(admin_client.get("/api/admin/bots?user_id=nope"), 400, "VALIDATION_ERROR")
    assert list(AuditLog.objects.order_by("created_at").values_list("action", flat=True)) == ["bots.list", "bots.list"]


def test_admin_pause_notifies_owner_and_is_audited(admin_client, admin_user, user, django_capture_on_commit_callbacks):
    bot = make_bot(user, "Alpha")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/api/admin/bot/{bot.id}/pause")
    assert response.status_code == 200
    assert response.json() == {"success": True, "bot_id": str(bot.id), "status": "paused", "admin_locked": True}
    bot.refresh_from_db()
    assert bot.status == "paused"

    events = events_since(user.id, 0)
    kinds = [e["event"] for e in events]
    assert "bot_update" in kinds and "alert" in kinds
    update = next(e for e in events if e["event"] == "bot_update")["payload"]
    assert update["bot_id"] == str(bot.id) and update["status"] == "paused"
    alert = next(e for e in events if e["event"] == "alert")["payload"]
    assert alert["level"] == "warning" and "administrator" in alert["message"] and alert["bot_id"] == str(bot.id)

    log = AuditLog.objects.get(action="bot.pause")
    assert log.actor == admin_user and log.target_type == "bot" and log.target_id == str(bot.id)
    assert log.details["previous_status"] == "active" and log.details["owner_id"] == str(user.id)

    # already paused: same answer, audited again, no new events
    before = len(events_since(user.id, 0))
    with django_capture_on_commit_callbacks(execute=True):
        again = admin_client.post(f"/api/admin/bot/{bot.id}/pause")
    assert again.status_code == 200 and again.json()["status"] == "paused"
    assert len(events_since(user.id, 0)) == before
    assert AuditLog.objects.filter(action="bot.pause").count() == 2


def test_admin_pause_unknown_bot(admin_client):
    import uuid

    assert_error(admin_client.post(f"/api/admin/bot/{uuid.uuid4()}/pause"), 404, "NOT_FOUND")
    assert not AuditLog.objects.exists()


def test_audit_log_and_chat_models_in_django_admin(make_user, client):
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    superuser = make_user(is_admin=True, is_staff=True, is_superuser=True)
    client.force_login(superuser)
    # The admin admits only sessions a second factor verified (accounts/admin_site.py).
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.create(user=superuser, confirmed=True).persistent_id
    session.save()
    AuditLog.objects.create(
        actor=superuser, actor_email=superuser.email, action="bot.pause", target_type="bot", target_id="x"
    )
    log = AuditLog.objects.get()
    assert client.get("/admin/accounts/auditlog/").status_code == 200
    assert client.get(f"/admin/accounts/auditlog/{log.pk}/change/").status_code == 200  # view only
    assert client.get("/admin/accounts/auditlog/add/").status_code == 403
    response = client.post(f"/admin/accounts/auditlog/{log.pk}/change/", {"action": "tampered"})
    assert response.status_code == 403
    log.refresh_from_db()
    assert log.action == "bot.pause"
    assert client.get("/admin/chat/chatmessage/").status_code == 200
    assert client.get("/admin/chat/pendingaction/").status_code == 200
