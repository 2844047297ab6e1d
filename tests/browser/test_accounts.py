"""The Accounts page (/accounts) in headless Chromium against the real server, at 1360x900 and at 390x844: add paper
accounts (with a starting balance), see each one's health and balance, an order placed on one account refreshing that
account's balance live (and not the other's), a live account's key fields and their errors, a connection test, delete.
"""

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}


def no_page_overflow(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def row(page, name):
    return tid(page, "account-row").filter(has=page.locator(f'[data-testid="account-row-name"]:text-is("{name}")'))


@pytest.mark.parametrize("size", VIEWPORTS)
def test_accounts_page(new_page, portal_server, screenshot_dir, size):
    user = register_via_api(portal_server, f"acct{size}")
    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, user, "/accounts")
    expect(tid(page, "nav-wallet")).to_have_attribute("aria-current", "page")
    expect(tid(page, "accounts-empty")).to_be_visible()
    assert page.locator("section#account-groups").count() == 1  # the groups section's place (account_groups.js)

    # Paper: no key fields; a starting balance.
    expect(tid(page, "account-api-key")).to_be_hidden()
    tid(page, "account-name").fill("Family")
    tid(page, "account-platform").select_option("luno")
    tid(page, "account-starting-balance").fill("5000")
    tid(page, "account-submit").click()
    expect(tid(page, "account-ok")).to_have_text("Family added.")
    family = row(page, "Family")
    expect(family).to_have_count(1)
    expect(family.locator('[data-testid="account-row-mode"]')).to_have_text("paper")
    expect(family.locator('[data-testid="account-health"]')).to_have_text("healthy")
    expect(family.locator('[data-testid="account-balance"]')).to_contain_text("5\u00a0000.00")

    tid(page, "account-name").fill("Client 2")
    tid(page, "account-platform").select_option("luno")
    tid(page, "account-submit").click()
    client = row(page, "Client 2")
    expect(client.locator('[data-testid="account-balance"]')).to_contain_text("000.00")
    expect(client.locator('[data-testid="account-balance-cell"]')).not_to_contain_text("null")
    expect(tid(page, "accounts-count")).to_have_text("2 accounts")

    # Live: the key fields show; without a key the error sits next to the field.
    tid(page, "account-mode").select_option("live")
    expect(tid(page, "account-api-key")).to_be_visible()
    expect(tid(page, "account-starting-balance")).to_be_hidden()
    tid(page, "account-name").fill("Main")
    tid(page, "account-submit").click()
    expect(page.locator('[data-error-for="api_key"]')).not_to_be_empty()
    expect(tid(page, "account-row")).to_have_count(2)
    tid(page, "account-mode").select_option("paper")

    # An order on Family (through the API) shows in Family's balance live; Client 2's stays as it was.
    family_id = family.get_attribute("data-id")
    client_before = client.locator('[data-testid="account-balance"]').text_content()
    resp = api(
        portal_server,
        user["token"],
        "POST",
        f"accounts/{family_id}/orders",
        {"symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": 0.001},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["order"]["account_id"] == family_id
    expect(family.locator('[data-testid="account-holdings"]')).to_contain_text("0.001 BTC")
    expect(client.locator('[data-testid="account-holdings"]')).to_have_count(0)
    assert client.locator('[data-testid="account-balance"]').text_content() == client_before

    # Test the connection: the health is recorded.
    client.locator('[data-testid="account-test"]').click()
    expect(tid(page, "toast").last).to_contain_text("Client 2: Paper account ready")
    expect(client.locator('[data-testid="account-health-note"]')).to_contain_text("checked")

    assert no_page_overflow(page)
    shot(page, screenshot_dir / f"accounts-{size}.png")

    # Delete (two steps); Family holds a position, so the API refuses it with the reason.
    client.locator('[data-testid="account-delete"]').click()
    client.locator('[data-testid="account-delete"]').click()
    expect(tid(page, "account-row")).to_have_count(1)
    family.locator('[data-testid="account-delete"]').click()
    family.locator('[data-testid="account-delete"]').click()
    expect(family.locator('[data-testid="account-row-error"]')).to_contain_text("open positions")
    assert page.errors == []


def test_wallet_links_to_accounts(new_page, portal_server):
    user = register_via_api(portal_server, "acctlink")
    page = new_page(viewport=VIEWPORTS["desktop"])
    open_signed_in(page, user, "/wallet")
    tid(page, "wallet-accounts-link").click()
    page.wait_for_url("**/accounts")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "accounts-empty")).to_be_visible()
