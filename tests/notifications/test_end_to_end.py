"""End to end against local fakes: a paper trade placed through the API reaches a webhook receiver (which checks the
HMAC signature) and the fake Telegram API, sent off the request's thread; a dead or slow endpoint never holds up or
fails the trade; a failing channel is retried, then switched off with a notice."""

import time

import pytest

from notifications.models import Channel, Delivery
from tests.notifications.conftest import wait_for

ORDER = {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": 0.001}


def _webhook(client, url):
    r = client.post("/api/notifications/channels", {"kind": "webhook", "target": url, "name": "hook"}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def _link_telegram(client, fake, chat_id):
    from notifications.services import telegram

    code = client.post("/api/notifications/telegram/link").json()["code"]
    fake.say(chat_id, f"/start {code}")
    telegram.poll_updates()
    assert "Linked" in fake.messages_to(chat_id)[-1]


@pytest.mark.django_db(transaction=True)
def test_paper_trade_sends_a_signed_webhook_and_a_telegram_message(auth_client, user, receiver, fake_telegram):
    created = _webhook(auth_client, receiver.url)
    receiver.secret = created["secret"]
    assert created["secret"].startswith("whsec_")
    _link_telegram(auth_client, fake_telegram, 4242)

    r = auth_client.post("/api/orders", ORDER, format="json")
    assert r.status_code == 201, r.content

    documents = wait_for(receiver.documents)
    assert documents[0]["event"] == "trade_executed"
    assert documents[0]["data"]["trade"]["is_paper"] is True
    assert documents[0]["data"]["trade"]["symbol"] == "BTC/ZAR"
    headers = receiver.received[0][0]
    assert headers["X-Amarktai-Event"] == "trade_executed"
    assert headers["X-Amarktai-Signature"].startswith("sha256=")
    assert all(valid for _, _, valid in receiver.received)  # every request carried a valid signature

    text = wait_for(lambda: [t for t in fake_telegram.messages_to(4242) if t.startswith("Trade executed")])
    assert "BTC/ZAR" in text[0] and "paper" in text[0]

    def delivered_trades():
        rows = auth_client.get("/api/notifications/deliveries").json()["deliveries"]
        done = [d for d in rows if d["status"] == "delivered" and d["event_kind"] == "trade_executed"]
        return done if len(done) == 2 else None

    log = wait_for(delivered_trades)
    assert {d["channel_kind"] for d in log} == {"webhook", "telegram"}
    assert {d["response_code"] for d in log} == {204, 200}
    assert all(d["attempts"] == 1 for d in log)


@pytest.mark.django_db(transaction=True)
def test_a_slow_or_dead_webhook_never_holds_up_the_trade(auth_client, user, settings):
    from tests.notifications.receiver import WebhookReceiver

    settings.NOTIFY_RETRY_BASE_SECONDS = 60  # no retry within the test
    with WebhookReceiver(mode="slow", delay=4.0) as slow:
        _webhook(auth_client, slow.url)
        _webhook(auth_client, "http://127.0.0.1:9/dead")  # nothing listens on the discard port
        started = time.monotonic()
        r = auth_client.post("/api/orders", ORDER, format="json")
        elapsed = time.monotonic() - started
        assert r.status_code == 201, r.content
        assert elapsed < 2.0, f"the order waited {elapsed:.1f}s for its notifications"
        assert auth_client.get("/api/trades").json()["total"] == 1  # committed
        wait_for(lambda: slow.hits >= 1)
        dead = wait_for(lambda: Delivery.objects.filter(channel__target__endswith="/dead", status="retrying").first())
        assert dead.attempts == 1 and "Connect" in dead.error and dead.next_attempt_at is not None


@pytest.mark.django_db(transaction=True)
def test_failing_channel_is_retried_then_switched_off_with_a_notice(auth_client, user, settings, mailoutbox):
    from tests.notifications.receiver import WebhookReceiver

    settings.NOTIFY_RETRY_BASE_SECONDS = 0.05
    settings.NOTIFY_MAX_ATTEMPTS = 3
    settings.NOTIFY_DISABLE_AFTER = 5
    auth_client.post("/api/notifications/channels", {"kind": "email", "target": "me@example.com"}, format="json")
    with WebhookReceiver(mode="fail") as failing:
        hook = _webhook(auth_client, failing.url)["channel"]
        auth_client.post("/api/orders", ORDER, format="json")
        first = wait_for(lambda: Delivery.objects.filter(channel_id=hook["id"], status="failed").first())
        assert first.attempts == 3 and first.response_code == 500 and first.error == "HTTP 500"
        assert Channel.objects.get(pk=hook["id"]).enabled  # 3 failures so far, 5 switch it off
        auth_client.post("/api/orders", ORDER, format="json")
        channel = wait_for(lambda: Channel.objects.filter(pk=hook["id"], enabled=False).first())
        assert failing.hits == 5
    assert "5 failed attempts" in channel.disabled_reason
    listed = auth_client.get(f"/api/notifications/channels/{hook['id']}").json()["channel"]
    assert listed["enabled"] is False and listed["disabled_reason"]
    notice = wait_for(lambda: [m for m in mailoutbox if "switched off" in m.subject])
    assert notice[0].to == ["me@example.com"] and "hook" in notice[0].body
    # switched back on by the user, its failures are forgotten
    r = auth_client.patch(f"/api/notifications/channels/{hook['id']}", {"enabled": True}, format="json")
    assert r.json()["channel"]["enabled"] is True and r.json()["channel"]["failure_count"] == 0


@pytest.mark.django_db(transaction=True)
def test_email_channel_through_a_real_smtp_server(auth_client, user, settings):
    """The email channel through Django's SMTP backend to a local SMTP catcher: a paper trade arrives as a mail."""
    from tests.notifications.smtp_catcher import SmtpCatcher

    with SmtpCatcher() as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        r = auth_client.post(
            "/api/notifications/channels", {"kind": "email", "target": "ops@example.com"}, format="json"
        )
        assert r.status_code == 201
        auth_client.post("/api/orders", ORDER, format="json")
        to, message = wait_for(smtp.emails)[0]
    assert to == ["ops@example.com"]
    assert message["Subject"].startswith("Trade executed: BUY 0.001 BTC/ZAR")
    assert "paper" in message.get_content()
    row = wait_for(lambda: Delivery.objects.filter(channel_kind="email", status="delivered").first())
    assert row.attempts == 1 and row.event_kind == "trade_executed"


@pytest.mark.django_db(transaction=True)
def test_telegram_webhook_mode(live_server, fake_telegram, settings, user, auth_client):
    """With TELEGRAM_WEBHOOK_SECRET, Telegram pushes updates (the fake, as after setWebhook) and polling stops; the URL
    and header secrets must both match; a resent update is handled once."""
    import httpx

    from bots.models import Bot
    from notifications.services import telegram

    settings.TELEGRAM_WEBHOOK_SECRET = "hook-Secret_1"
    bot = Bot.objects.create(
        user=user,
        name="Alpha",
        exchange="luno",
        symbol="BTC/ZAR",
        status="active",
        initial_capital=1000,
        current_capital=1000,
    )
    code = auth_client.post("/api/notifications/telegram/link").json()["code"]
    fake_telegram.say(600, f"/start {code}")
    fake_telegram.say(600, "/pause Alpha")
    assert telegram.poll_updates() == 0 and fake_telegram.sent == []
    base = f"{live_server.url}/api/notifications/telegram/webhook"
    assert fake_telegram.push(f"{base}/wrong", "hook-Secret_1") == [404, 404]
    assert fake_telegram.push(f"{base}/hook-Secret_1", "wrong") == [404, 404]
    assert fake_telegram.sent == []
    assert fake_telegram.push(f"{base}/hook-Secret_1", "hook-Secret_1") == [200, 200]
    replies = fake_telegram.messages_to(600)
    assert "Linked" in replies[0] and replies[1] == "Bot Alpha paused."
    bot.refresh_from_db()
    assert bot.status == "paused"
    resent = {"update_id": 2, "message": {"chat": {"id": 600}, "text": "/status"}}
    r = httpx.post(f"{base}/hook-Secret_1", json=resent, headers={"X-Telegram-Bot-Api-Secret-Token": "hook-Secret_1"})
    assert r.status_code == 200
    # the pause's own notification reaches the chat too; the resent /status got no answer (update 2 was handled)
    wait_for(lambda: fake_telegram.messages_to(600).count("Bot Alpha paused.") == 2)
    assert not [t for t in fake_telegram.messages_to(600) if "bots active" in t]
