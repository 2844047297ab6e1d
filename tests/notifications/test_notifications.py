"""Notifications: channels API, secrets, preferences, the SSRF guard, the event mapping, Telegram linking and commands,
new-device sign-ins and the daily report."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from bots.models import Bot
from notifications.models import Channel, DailyReport, Delivery, KnownDevice
from notifications.services import delivery, listener, reports, telegram
from notifications.transport import sign
from realtime import events
from tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db


def _bot(user, name="Alpha", status="active"):
    return Bot.objects.create(
        user=user,
        name=name,
        exchange="luno",
        symbol="BTC/ZAR",
        status=status,
        initial_capital=1000,
        current_capital=1000,
    )


def _email(client, address="me@example.com"):
    r = client.post("/api/notifications/channels", {"kind": "email", "target": address}, format="json")
    assert r.status_code == 201, r.content
    return r.json()["channel"]


# ---------------------------------------------------------------------------------------------------- channels API


def test_webhook_secret_is_shown_once_stored_encrypted_and_rotatable(auth_client, user):
    r = auth_client.post(
        "/api/notifications/channels", {"kind": "webhook", "target": "https://example.com/hook"}, format="json"
    )
    assert r.status_code == 201
    body = r.json()
    secret, channel = body["secret"], body["channel"]
    assert channel["has_secret"] is True and channel["kind"] == "webhook"
    assert set(channel["event_kinds"]) == {"trade_executed", "bot_paused", "risk_limit", "daily_report", "new_device"}
    row = Channel.objects.get(pk=channel["id"])
    assert secret not in row.secret_enc and row.secret_enc  # ciphertext only
    for path in ("/api/notifications/channels", f"/api/notifications/channels/{channel['id']}"):
        assert secret not in auth_client.get(path).content.decode()
    rotated = auth_client.post(f"/api/notifications/channels/{channel['id']}/secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    assert_error(
        auth_client.post(f"/api/notifications/channels/{_email(auth_client)['id']}/secret"), 400, "VALIDATION_ERROR"
    )


def test_channel_validation(auth_client):
    post = auth_client.post
    assert_error(
        post("/api/notifications/channels", {"kind": "email", "target": "nope"}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert_error(
        post("/api/notifications/channels", {"kind": "webhook", "target": "ftp://x.org/a"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        post("/api/notifications/channels", {"kind": "telegram", "target": "1"}, format="json"), 400, "VALIDATION_ERROR"
    )
    bad = {"kind": "webhook", "target": "https://user:pw@example.com/x"}
    assert_error(post("/api/notifications/channels", bad, format="json"), 400, "VALIDATION_ERROR")


def test_update_and_delete(auth_client):
    channel = _email(auth_client)
    url = f"/api/notifications/channels/{channel['id']}"
    r = auth_client.patch(url, {"name": "Inbox", "enabled": False}, format="json").json()["channel"]
    assert r["name"] == "Inbox" and r["enabled"] is False
    assert_error(auth_client.patch(url, {}, format="json"), 400, "VALIDATION_ERROR")
    assert auth_client.delete(url).json()["success"] is True
    assert_error(auth_client.get(url), 404, "NOT_FOUND")


def test_api_key_may_read_but_not_add_channels(user):
    from accounts.models import ApiKey

    _key, raw = ApiKey.generate(user, "bot", scopes=["read", "trade"])
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/notifications/channels").status_code == 200
    r = client.post("/api/notifications/channels", {"kind": "email", "target": "a@b.co"}, format="json")
    assert_error(r, 403, "PERMISSION_DENIED")
    assert_error(client.post("/api/notifications/telegram/link"), 403, "PERMISSION_DENIED")


def test_test_message_goes_through_the_log(auth_client, inline_delivery):
    channel = _email(auth_client)
    r = auth_client.post(f"/api/notifications/channels/{channel['id']}/test")
    assert r.status_code == 202
    assert mail.outbox[-1].subject == "Amarktai test notification" and mail.outbox[-1].to == ["me@example.com"]
    log = auth_client.get("/api/notifications/deliveries").json()["deliveries"]
    assert log[0]["event_kind"] == "test" and log[0]["status"] == "delivered" and log[0]["attempts"] == 1


def test_deliveries_filter_and_tenancy(auth_client, other_client, inline_delivery):
    channel = _email(auth_client)
    auth_client.post(f"/api/notifications/channels/{channel['id']}/test")
    assert len(auth_client.get("/api/notifications/deliveries?status=delivered").json()["deliveries"]) == 1
    assert auth_client.get("/api/notifications/deliveries?status=failed").json()["deliveries"] == []
    assert other_client.get("/api/notifications/deliveries").json()["deliveries"] == []
    assert other_client.get("/api/notifications/channels").json()["channels"] == []
    assert_error(other_client.post(f"/api/notifications/channels/{channel['id']}/test"), 404, "NOT_FOUND")
    assert_error(auth_client.get("/api/notifications/deliveries?limit=abc"), 400, "VALIDATION_ERROR")


def test_preferences(auth_client, other_client, user):
    a, b = _email(auth_client, "a@example.com"), _email(auth_client, "b@example.com")
    prefs = auth_client.get("/api/notifications/preferences").json()
    assert set(prefs["preferences"]["trade_executed"]) == {a["id"], b["id"]}
    assert prefs["timezone"] == "UTC" and prefs["report_hour"] == 18
    assert {k["kind"] for k in prefs["kinds"]} >= {"trade_executed", "new_device"}
    body = {
        "preferences": {"trade_executed": [b["id"]], "daily_report": []},
        "timezone": "Africa/Johannesburg",
        "report_hour": 7,
    }
    prefs = auth_client.patch("/api/notifications/preferences", body, format="json").json()
    assert prefs["preferences"]["trade_executed"] == [b["id"]] and prefs["preferences"]["daily_report"] == []
    assert set(prefs["preferences"]["risk_limit"]) == {a["id"], b["id"]}  # not named: unchanged
    assert prefs["timezone"] == "Africa/Johannesburg" and prefs["report_hour"] == 7
    bad = auth_client.patch("/api/notifications/preferences", {"preferences": {"nonsense": []}}, format="json")
    assert_error(bad, 400, "VALIDATION_ERROR")
    assert_error(
        auth_client.patch("/api/notifications/preferences", {"timezone": "Mars/Base"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    foreign = other_client.patch(
        "/api/notifications/preferences", {"preferences": {"trade_executed": [a["id"]]}}, format="json"
    )
    assert_error(foreign, 404, "NOT_FOUND")


# ------------------------------------------------------------------------------------------------------ SSRF guard


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/x",
        "http://10.0.0.5/x",
        "http://192.168.1.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "http://metadata.internal/x",
    ],
)
def test_ssrf_guard_refuses_private_targets_in_production(auth_client, settings, url):
    settings.NOTIFY_ALLOW_PRIVATE_TARGETS = False
    r = auth_client.post("/api/notifications/channels", {"kind": "webhook", "target": url}, format="json")
    assert_error(r, 400, "VALIDATION_ERROR")


def test_ssrf_guard_also_holds_at_send_time(auth_client, user, settings, inline_delivery):
    """A URL accepted while private targets were allowed is refused when sending once they are not."""
    channel = auth_client.post(
        "/api/notifications/channels", {"kind": "webhook", "target": "http://127.0.0.1:9/x"}, format="json"
    ).json()["channel"]
    settings.NOTIFY_ALLOW_PRIVATE_TARGETS = False
    settings.NOTIFY_MAX_ATTEMPTS = 1
    auth_client.post(f"/api/notifications/channels/{channel['id']}/test")
    row = Delivery.objects.get(channel_id=channel["id"])
    assert row.status == "failed" and "public address" in row.error and row.response_code is None


def test_signature_recipe():
    body = json.dumps({"a": 1}).encode()
    assert sign("whsec_x", "1700000000", body) == (
        "sha256=" + __import__("hmac").new(b"whsec_x", b"1700000000." + body, "sha256").hexdigest()
    )


# ----------------------------------------------------------------------------------------------- event -> notice


def test_event_mapping():
    kind, subject, _message, _ = listener.classify(
        events.TRADE_EXECUTED, {"trade": {"side": "buy", "amount": 1, "symbol": "BTC/ZAR", "is_paper": True}}
    )
    assert kind == "trade_executed" and "BUY 1 BTC/ZAR" in subject
    risk = listener.classify(events.ALERT, {"level": "warning", "message": "Daily loss limit", "kind": "risk_limit"})
    assert risk[0] == "risk_limit" and risk[2] == "Daily loss limit"
    guard = {"level": "warning", "message": "Cooldown after exit", "kind": "protection", "bot_id": "b1"}
    assert listener.classify(events.ALERT, guard)[:2] == ("risk_limit", "Protection triggered")
    paused = listener.classify(
        events.BOT_UPDATE,
        {"bot_id": "b1", "status": "paused", "data": {"name": "Alpha", "last_error": "exchange down"}},
    )
    assert paused[0] == "bot_paused" and "exchange down" in paused[2]
    # the alert that follows the same pause is not a second notice
    assert listener.classify(events.ALERT, {"level": "warning", "message": "paused", "bot_id": "b1"}) is None
    assert listener.classify(events.ALERT, {"level": "warning", "message": "x", "bot_id": "b2"})[0] == "bot_paused"
    assert listener.classify(events.BOT_UPDATE, {"bot_id": "b3", "status": "active", "data": {}}) is None
    assert listener.classify(events.ALERT, {"level": "info", "message": "hello"}) is None
    assert listener.classify(events.PNL_UPDATE, {}) is None


def test_risk_limit_alert_reaches_the_chosen_channels_only(
    auth_client, user, inline_delivery, django_capture_on_commit_callbacks
):
    _email(auth_client, "a@example.com")
    b = _email(auth_client, "b@example.com")
    auth_client.patch("/api/notifications/preferences", {"preferences": {"risk_limit": [b["id"]]}}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(user.pk, events.ALERT, {"level": "warning", "message": "Max drawdown hit", "kind": "risk_limit"})
    sent = [m for m in mail.outbox if m.subject == "Risk limit hit"]
    assert [m.to for m in sent] == [["b@example.com"]] and "Max drawdown hit" in sent[0].body


def test_a_failing_listener_never_breaks_the_publisher(user, django_capture_on_commit_callbacks):
    def broken(*args):
        raise RuntimeError("boom")

    events.add_listener(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            events.publish(user.pk, events.ALERT, {"level": "info", "message": "still delivered"})
        assert events.last_event_id(user.pk) >= 1
    finally:
        events.remove_listener(broken)


# --------------------------------------------------------------------------------------------------------- Telegram


def test_unlinked_chats_get_link_first_and_nothing_else(fake_telegram, user):
    bot = _bot(user)
    for text in ("/status", "/pause Alpha", "/stop", "hello", "/start wrong-code"):
        fake_telegram.say(777, text)
    telegram.poll_updates()
    replies = fake_telegram.messages_to(777)
    assert len(replies) == 5
    assert all("not linked" in r for r in replies[:4]) and "not valid" in replies[4]
    bot.refresh_from_db()
    assert bot.status == "active"
    assert not Channel.objects.filter(kind="telegram").exists()


def test_link_then_commands_act_on_the_linked_account_only(fake_telegram, user, other_user, auth_client, caplog):
    mine, theirs = _bot(user, "Alpha"), _bot(other_user, "Alpha")
    second = _bot(user, "Beta")
    link = auth_client.post("/api/notifications/telegram/link").json()
    assert link["configured"] is True and link["bot_username"] == "AmarktaiTestBot"
    assert link["link_url"] == f"https://t.me/AmarktaiTestBot?start={link['code']}"
    fake_telegram.say(555, f"/start {link['code']}")
    fake_telegram.say(555, "/status")
    fake_telegram.say(555, "/pause alpha")
    fake_telegram.say(555, "/pause Gamma")
    telegram.poll_updates()
    linked, status, paused, unknown = fake_telegram.messages_to(555)
    assert user.email in linked
    assert "2 of 2 bots active" in status and "Alpha" in status and "Beta" in status
    assert paused == "Bot Alpha paused." and "no bot named" in unknown
    mine.refresh_from_db(), theirs.refresh_from_db(), second.refresh_from_db()
    assert mine.status == "paused" and theirs.status == "active" and second.status == "active"
    channels = auth_client.get("/api/notifications/channels").json()["channels"]
    assert [c["kind"] for c in channels] == ["telegram"] and channels[0]["target"].endswith("555")

    # the code worked once; /stop stops every bot of the linked account only
    fake_telegram.say(556, f"/start {link['code']}")
    fake_telegram.say(555, "/stop")
    telegram.poll_updates()
    assert "not valid" in fake_telegram.messages_to(556)[-1]
    assert "Trading stopped" in fake_telegram.messages_to(555)[-1]
    second.refresh_from_db(), theirs.refresh_from_db()
    assert second.status in ("paused", "stopped") and theirs.status == "active"
    # handled updates are not handled again
    before = len(fake_telegram.sent)
    telegram.poll_updates()
    assert len(fake_telegram.sent) == before
    assert fake_telegram.token not in caplog.text  # the Bot API URL carries the token: never logged


def test_expired_code_does_not_link(fake_telegram, auth_client):
    from notifications.models import TelegramLinkCode

    code = auth_client.post("/api/notifications/telegram/link").json()["code"]
    TelegramLinkCode.objects.update(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
    fake_telegram.say(9, f"/start {code}")
    telegram.poll_updates()
    assert "not valid" in fake_telegram.messages_to(9)[-1]


def test_telegram_delivery_failure_is_logged(fake_telegram, user, inline_delivery, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    channel = Channel.objects.create(user=user, kind="telegram", target="31337")
    fake_telegram.fail_sends = 1
    row = delivery.enqueue(channel, "test", "Hello", "It works")
    delivery.attempt(row.pk)  # INLINE: the retry ran at once
    row.refresh_from_db()
    assert row.status == "delivered" and row.attempts == 2
    assert fake_telegram.messages_to(31337) == ["Hello\nIt works"]


# ----------------------------------------------------------------------------------------- new device, daily report


def test_sign_in_from_a_new_device_is_announced(api_client, user, inline_delivery, django_capture_on_commit_callbacks):
    client_for(user).post("/api/notifications/channels", {"kind": "email", "target": "sec@example.com"}, format="json")
    creds = {"email": user.email, "password": user.raw_password}
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post("/api/auth/login", creds, format="json", HTTP_USER_AGENT=firefox).status_code == 200
        assert api_client.post("/api/auth/login", creds, format="json", HTTP_USER_AGENT=firefox).status_code == 200
    assert KnownDevice.objects.filter(user=user).count() == 1
    assert not [m for m in mail.outbox if "New sign-in" in m.subject]  # the first device is not news
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post("/api/auth/login", creds, format="json", HTTP_USER_AGENT=chrome).status_code == 200
    notices = [m for m in mail.outbox if "New sign-in" in m.subject]
    assert len(notices) == 1 and "Chrome on Windows" in notices[0].body


def test_daily_report_once_per_local_day(user, inline_delivery, auth_client):
    _email(auth_client)
    auth_client.patch("/api/notifications/preferences", {"timezone": "Asia/Tokyo", "report_hour": 9}, format="json")
    early = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo on March 2
    assert reports.send_due_reports(early) == 0
    due = early + timedelta(hours=1)  # 09:00 in Tokyo
    assert reports.send_due_reports(due) == 1
    assert reports.send_due_reports(due + timedelta(hours=3)) == 0
    assert list(DailyReport.objects.values_list("day", flat=True)) == [datetime(2026, 3, 2).date()]
    report = [m for m in mail.outbox if m.subject.startswith("Amarktai daily report")]
    assert len(report) == 1 and "2026-03-02" in report[0].subject and "trade(s)" in report[0].body


def test_pausing_a_bot_notifies_bot_paused(auth_client, user, inline_delivery, django_capture_on_commit_callbacks):
    _email(auth_client, "bots@example.com")
    bot = _bot(user, "Gamma")
    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.post(f"/api/bots/{bot.pk}/pause").status_code == 200
    sent = [m for m in mail.outbox if m.subject == "Bot Gamma paused"]
    assert len(sent) == 1 and sent[0].to == ["bots@example.com"]


def test_lost_deliveries_are_sent_again(user, inline_delivery):
    channel = Channel.objects.create(user=user, kind="email", target="late@example.com")
    row = Delivery.objects.create(
        user=user, channel=channel, channel_kind="email", event_kind="test", subject="Late", message="late"
    )
    assert delivery.retry_stale() == 0  # young: its own dispatch may still come
    Delivery.objects.filter(pk=row.pk).update(created_at=row.created_at - timedelta(hours=1))
    assert delivery.retry_stale() == 1
    row.refresh_from_db()
    assert row.status == "delivered" and [m.subject for m in mail.outbox] == ["Late"]


@pytest.mark.django_db(transaction=True)
def test_embedded_scheduler_runs_registered_periodic_jobs():
    import threading

    from bots.scheduler import EmbeddedScheduler, _periodic, register_periodic

    ran = threading.Event()
    register_periodic("test.job", ran.set, 60.0)
    scheduler = EmbeddedScheduler(tick_every=0.1)
    try:
        scheduler.start()
        assert ran.wait(10)
    finally:
        scheduler.stop()
        scheduler.join(10)
        _periodic.pop("test.job", None)
    assert {"notifications.periodic", "notifications.poll_telegram"} <= set(_periodic)


def test_doctor_checks(fake_telegram, user, settings):
    from cryptography.fernet import Fernet

    from notifications.doctor import check_telegram, check_webhook_secrets
    from notifications.services.channels import create_channel

    assert check_telegram().status == "ok" and "@AmarktaiTestBot" in check_telegram().detail
    assert check_webhook_secrets().status == "skip"
    create_channel(user, "webhook", "https://example.com/h")
    assert check_webhook_secrets().status == "ok"
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert check_webhook_secrets().status == "fail"
    settings.TELEGRAM_BOT_TOKEN = "999:wrong"
    assert check_telegram().status == "warn"
    settings.TELEGRAM_BOT_TOKEN = ""
    assert check_telegram().status == "skip"


def test_rotate_field_keys_re_encrypts_webhook_secrets(user, settings):
    import io

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from notifications.services.channels import create_channel
    from wallets import crypto

    old = settings.FIELD_ENCRYPTION_KEYS[0]
    channel, secret = create_channel(user, "webhook", "https://example.com/h")
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_field_keys", stdout=out)
    assert "Re-encrypted 1 webhook secret(s)" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key dropped: the secret still opens
    channel.refresh_from_db()
    assert crypto.decrypt(channel.secret_enc) == secret
