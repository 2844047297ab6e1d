"""The Accounts page's groups section (mirror) in headless Chromium against the real server, at 1360x900 and at
390x844: three paper accounts on two exchanges, a group made in the page (primary + followers with multipliers), one
order sent to the group from the page, each account's child order shown with its status (a follower short of funds
skipped, and why), live on the group_order_update feed; a follower switched off; no sideways scrolling."""

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}


def make_account(server, token, name, platform, balance):
    body = {"name": name, "platform": platform, "trading_mode": "paper", "starting_balance": balance}
    resp = api(server, token, "POST", "accounts", body)
    assert resp.status_code == 201, resp.text
    return resp.json()["account"]["id"]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_groups_section(new_page, portal_server, screenshot_dir, size):
    user = register_via_api(portal_server, f"mirror{size}")
    token = user["token"]
    primary = make_account(portal_server, token, "Lead", "luno", "100000")
    make_account(portal_server, token, "Family", "luno", "100000")
    make_account(portal_server, token, "Client", "valr", "10")  # too little for its share: skipped
    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, user, "/accounts")
    expect(tid(page, "group-empty")).to_be_visible()

    tid(page, "group-name").fill("Desk")
    tid(page, "group-primary").select_option(primary)
    tid(page, "group-create").click()
    group = tid(page, "group")
    expect(group).to_have_count(1)
    expect(tid(page, "group-title")).to_have_text("Desk")
    expect(tid(page, "member-row")).to_have_count(1)

    form = tid(page, "member-form")
    form.locator('[data-testid="member-account-select"]').select_option(label="Family (Luno, paper)")
    form.locator('[data-testid="member-multiplier"]').fill("0.5")
    form.locator('[data-testid="member-add"]').click()
    expect(tid(page, "member-row")).to_have_count(2)
    form = tid(page, "member-form")
    form.locator('[data-testid="member-account-select"]').select_option(label="Client (VALR, paper)")
    form.locator('[data-testid="member-multiplier"]').fill("2")
    form.locator('[data-testid="member-add"]').click()
    expect(tid(page, "member-row")).to_have_count(3)
    expect(tid(page, "member-size").nth(1)).to_have_text("× 0.5")  # noqa: RUF001

    tid(page, "group-order-symbol").fill("BTC/ZAR")
    tid(page, "group-order-amount").fill("0.002")
    tid(page, "group-order-submit").click()
    order = tid(page, "group-order")
    expect(order).to_have_count(1)
    expect(order.locator('[data-testid="group-order-status"]')).to_have_text("Partly filled")
    children = order.locator('[data-testid="group-child"]')
    expect(children).to_have_count(3)
    expect(order.locator('[data-testid="group-child"][data-status="closed"]')).to_have_count(2)
    skipped = order.locator('[data-testid="group-child"][data-status="skipped"]')
    expect(skipped).to_contain_text("Client")
    expect(skipped.locator('[data-testid="group-child-error"]')).to_contain_text("insufficient funds")
    expect(order).to_contain_text("Lead (luno): 0.002 Filled")
    expect(order).to_contain_text("Family (luno): 0.001 Filled")

    # A group order placed elsewhere (the API) shows up live.
    group_id = group.get_attribute("data-id")
    resp = api(
        portal_server,
        token,
        "POST",
        f"account-groups/{group_id}/orders",
        {"symbol": "BTC/ZAR", "side": "buy", "amount": "0.004"},
    )
    assert resp.status_code == 201, resp.text
    expect(tid(page, "group-order")).to_have_count(2)

    # Switch the short follower off: the next order leaves it out.
    tid(page, "member-toggle").nth(2).click()
    expect(tid(page, "member-row").nth(2)).to_have_attribute("data-enabled", "false")
    assert no_page_overflow(page)
    shot(page, str(screenshot_dir / f"mirror-groups-{size}.png"))

    # The Trades page's order list says which group and account each child order went to.
    page.goto("/trades")
    expect(tid(page, "order-row")).to_have_count(4)  # 2 + 2 children placed (the short follower never was)
    expect(tid(page, "order-group")).to_have_count(4)
    expect(tid(page, "order-group").first).to_contain_text("Desk · ")
    expect(tid(page, "orders-group-order").first).to_contain_text("Client (valr) Skipped (insufficient funds")
    assert no_page_overflow(page)


def no_page_overflow(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
