"""Settings > Notifications in headless Chromium, at 1360x900 and 390x844, against a real server (embedded mode) whose
Telegram Bot API is a local fake: add a webhook (its secret shown once) and an email channel, test the webhook (the
receiver checks the signature), link Telegram with the code the page shows, choose what goes where, then a paper trade
appears in the delivery log, signed at the webhook and as a Telegram message."""

import pytest

from tests.browser.conftest import _require_browser
from tests.browser.server import PortalServer
from tests.browser.test_portal import open_signed_in, place_trade, register_via_api, shot, tid
from tests.fake_telegram.server import FakeTelegram
from tests.notifications.conftest import wait_for
from tests.notifications.receiver import WebhookReceiver

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "mobile": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def fake_telegram():
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture(scope="module")
def notify_server(fake_telegram):
    _require_browser()
    server = PortalServer()
    server.env.update(
        {
            "TELEGRAM_API_BASE": fake_telegram.url,
            "TELEGRAM_BOT_TOKEN": fake_telegram.token,
            "TELEGRAM_POLL_SECONDS": "1",
        }
    )
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def open_page(browser, notify_server):
    contexts = []

    def factory(viewport):
        context = browser.new_context(base_url=notify_server.base, viewport=viewport)
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield factory
    for context in contexts:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "mobile"])
def test_notification_settings(open_page, notify_server, fake_telegram, screenshot_dir, size):
    account = register_via_api(notify_server, f"notify{size}")
    page = open_page(VIEWPORTS[size])
    open_signed_in(page, account, "/settings")
    tid(page, "settings-notifications-link").click()
    page.wait_for_url("**/settings/notifications")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "notify-channels-empty")).to_be_visible()

    with WebhookReceiver() as receiver:
        # a webhook: the secret is shown once, and never again after a reload
        tid(page, "notify-kind").select_option("webhook")
        tid(page, "notify-target").fill(receiver.url)
        tid(page, "notify-name").fill("My hook")
        tid(page, "notify-add").click()
        expect(tid(page, "notify-secret-box")).to_be_visible()
        secret = tid(page, "notify-secret").text_content()
        assert secret.startswith("whsec_")
        receiver.secret = secret
        expect(tid(page, "notify-row")).to_have_count(1)

        # a bad email address is refused next to the field
        tid(page, "notify-kind").select_option("email")
        tid(page, "notify-target").fill("not-an-address")
        tid(page, "notify-add").click()
        expect(page.locator('[data-error-for="target"]')).not_to_be_empty()
        tid(page, "notify-target").fill("me@example.com")
        tid(page, "notify-add").click()
        expect(tid(page, "notify-row")).to_have_count(2)

        # test the webhook: a signed request arrives, the log shows it delivered
        tid(page, "notify-row").filter(has_text="My hook").locator('[data-testid="notify-row-test"]').click()
        wait_for(receiver.documents)
        assert receiver.documents()[0]["event"] == "test"
        tid(page, "notify-deliveries-refresh").click()
        expect(tid(page, "notify-delivery-row").filter(has_text="webhook")).to_have_count(0)  # named by channel
        expect(page.locator('[data-testid="notify-delivery-row"][data-status="delivered"]')).to_have_count(1)

        # Telegram: the page gives the code, the user sends it to the (fake) bot, the chat is linked
        tid(page, "notify-telegram-link").click()
        expect(tid(page, "notify-telegram-box")).to_be_visible()
        expect(tid(page, "notify-telegram-bot")).to_have_text("@AmarktaiTestBot")
        command = tid(page, "notify-telegram-command").text_content()
        assert command.startswith("/start ")
        chat = 8000 + len(size)
        fake_telegram.say(chat, command)
        wait_for(lambda: any("Linked" in t for t in fake_telegram.messages_to(chat)), timeout=20)

        # choices: trades go to the webhook and Telegram, not to email
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        expect(tid(page, "notify-row")).to_have_count(3)
        expect(tid(page, "notify-row").filter(has_text="Telegram")).to_have_count(1)
        email_id = tid(page, "notify-row").filter(has_text="me@example.com").get_attribute("data-id")
        page.locator(f'[data-kind="trade_executed"][data-channel="{email_id}"]').uncheck()
        tid(page, "notify-timezone").fill("Africa/Johannesburg")
        tid(page, "notify-prefs-save").click()
        expect(tid(page, "toast").filter(has_text="saved")).to_be_visible()
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        expect(page.locator(f'[data-kind="trade_executed"][data-channel="{email_id}"]')).not_to_be_checked()
        expect(tid(page, "notify-timezone")).to_have_value("Africa/Johannesburg")
        expect(tid(page, "notify-secret-box")).to_be_hidden()
        assert secret not in page.content()

        # a paper trade: signed webhook + Telegram message, both in the log
        place_trade(notify_server, account["token"])
        wait_for(lambda: [d for d in receiver.documents() if d["event"] == "trade_executed"], timeout=20)
        wait_for(lambda: [t for t in fake_telegram.messages_to(chat) if t.startswith("Trade executed")], timeout=20)
        assert all(valid for _, _, valid in receiver.received)
        tid(page, "notify-deliveries-refresh").click()
        delivered_trades = page.locator('[data-testid="notify-delivery-row"][data-event="trade_executed"]')
        expect(delivered_trades).to_have_count(2)

    if size == "mobile":
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, screenshot_dir / f"notifications-{size}.png")
    assert page.errors == []
