"""The create-bot form generated from GET /api/strategies, and a signal bot's webhook URL (shown once, with its
TradingView template) and alert history, in headless Chromium at 1360x900 and 390x844 against the real server."""

import httpx
import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}


def no_horizontal_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_generated_form_validates_and_creates(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"form{size}")
    page = new_page(VIEWPORTS[size])
    open_signed_in(page, account, "/bots")
    strategies = api(portal_server, account["token"], "GET", "strategies").json()["strategies"]
    options = tid(page, "bot-strategy").locator("option")
    expect(options).to_have_count(len(strategies))
    # Momentum's fields, with their declared defaults, ranges and descriptions
    fast = tid(page, "bot-param-fast")
    expect(fast).to_have_value("5")
    assert fast.get_attribute("min") == "2" and fast.get_attribute("step") == "1"
    expect(tid(page, "bot-param-help-fast")).to_contain_text("fast moving average")
    # another strategy: its own fields replace them
    tid(page, "bot-strategy").select_option("supertrend")
    expect(tid(page, "bot-param-multiplier")).to_have_value("3")
    expect(tid(page, "bot-param-fast")).to_have_count(0)
    tid(page, "bot-strategy").select_option("momentum")
    tid(page, "bot-name").fill(f"Generated {size}")
    tid(page, "bot-capital").fill("100")
    # out of range: the error shows next to the generated input, nothing is created
    fast.fill("1")
    tid(page, "bot-create").click()
    expect(page.locator('[data-error-for="params.fast"]')).to_contain_text("at least 2")
    fast.fill("8")
    tid(page, "bot-param-position_pct").fill("0.5")
    tid(page, "bot-create").click()
    expect(tid(page, "bots-list")).to_contain_text(f"Generated {size}")
    bots = api(portal_server, account["token"], "GET", "bots").json()["bots"]
    assert bots[0]["params"] == {"fast": 8, "slow": 20, "min_roc": 0, "position_pct": 0.5}
    no_horizontal_scroll(page)
    shot(page, screenshot_dir / f"signalbot-form-{size}.png")
    assert not page.errors, page.errors


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_signal_bot_webhook_shown_once_and_alerts_listed(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"sig{size}")
    page = new_page(VIEWPORTS[size])
    open_signed_in(page, account, "/bots")
    tid(page, "bot-strategy").select_option("signal")
    expect(tid(page, "bot-param-fast")).to_have_count(0)
    expect(tid(page, "bot-param-position_pct")).to_have_count(1)
    tid(page, "bot-name").fill(f"Signal {size}")
    tid(page, "bot-capital").fill("1000")
    tid(page, "bot-create").click()
    box = tid(page, "webhook-created")
    expect(box).to_be_visible()
    url = tid(page, "webhook-url").input_value()
    assert "/api/webhooks/whk_" in url
    expect(tid(page, "webhook-template")).to_contain_text('"action": "{{strategy.order.action}}"')
    expect(tid(page, "webhook-template")).to_contain_text('"ticker": "BTCZAR"')
    tid(page, "webhook-copy").click()
    expect(tid(page, "webhook-copy")).to_have_text("Copied")
    no_horizontal_scroll(page)
    shot(page, screenshot_dir / f"signalbot-webhook-{size}.png")

    # A TradingView-style alert, sent twice: one trade, one replay
    alert = {"action": "buy", "ticker": "BTCZAR", "price": 1000000, "id": f"tv-{size}"}
    assert httpx.post(url, json=alert, timeout=15).status_code == 200
    assert httpx.post(url, json=alert, timeout=15).status_code == 409
    assert httpx.post(url, json={"action": "buy", "ticker": "ETHZAR"}, timeout=15).status_code == 400

    # the URL is not shown again: the bot's page lists the alerts and why each did or did not trade
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "webhook-created")).to_be_hidden()
    page.locator('[data-testid="bot-row-link"]').first.click()
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "bot-webhooks")).to_be_visible()
    rows = tid(page, "bot-webhook-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute("data-outcome", "rejected")
    expect(rows.nth(0)).to_contain_text("this bot trades BTC/ZAR")
    expect(rows.nth(1)).to_contain_text("replay")
    expect(rows.nth(2)).to_have_attribute("data-outcome", "traded")
    assert url not in page.content()
    no_horizontal_scroll(page)
    shot(page, screenshot_dir / f"signalbot-history-{size}.png")
    # a new URL: shown once there, the old one stops working
    tid(page, "webhook-rotate").click()
    expect(tid(page, "webhook-rotated")).to_be_visible()
    assert httpx.post(url, json={"action": "sell"}, timeout=15).status_code == 404
    assert not page.errors, page.errors
