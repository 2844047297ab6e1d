"""The trades page's Orders card in headless Chromium, at desktop and phone sizes: a resting paper order appears (live,
from its order_update event), can be cancelled with a confirming second click, and an order split into parts (a
broker's freeze quantity) shows each part with its own status and reason.

The split order comes from a live broker, which the test server has no keys for, so the test adds one to the real
GET /api/orders answer in the browser (a Playwright route), in exactly the shape the API gives (tests/trading/
test_order_list_children.py checks that shape against the real view)."""

import re

import pytest

from tests.browser.test_portal import open_signed_in, register_via_api, shot, tid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

SIZES = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}


def part(n, status, filled, reason=""):
    return {
        "id": f"00000000-0000-0000-0000-00000000000{n}",
        "bot_id": None,
        "parent_id": "00000000-0000-0000-0000-000000000001",
        "exchange": "openalgo",
        "symbol": "RELIANCE/INR",
        "side": "buy",
        "type": "market",
        "amount": 1800.0,
        "price": None,
        "stop_price": None,
        "time_in_force": "gtc",
        "product": "CNC",
        "filled": filled,
        "average": 2900.0 if filled else None,
        "fee": 0.0,
        "status": status,
        "client_order_id": f"amk-part-{n}",
        "is_paper": False,
        "reason": reason,
        "created_at": "2026-11-25T05:00:00Z",
        "updated_at": "2026-11-25T05:00:01Z",
    }


SPLIT = {
    **part(1, "closed", 1800.0),
    "parent_id": None,
    "amount": 3600.0,
    "client_order_id": "amk-split",
    "children": [part(2, "closed", 1800.0), part(3, "rejected", 0.0, "RMS: margin exceeds the available funds")],
}


def add_split_order(page):
    def orders(route):
        if route.request.method != "GET":
            route.continue_()
            return
        data = route.fetch().json()
        data["orders"].append(SPLIT)
        route.fulfill(json=data)

    page.route(re.compile(r".*/api/orders\?.*"), orders)


@pytest.mark.parametrize("size", SIZES)
def test_orders_card_shows_resting_cancelled_and_split_orders(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"orderlist{size}")
    page = new_page(viewport=SIZES[size])
    add_split_order(page)
    open_signed_in(page, account, "/trades")

    split = page.locator(f'[data-testid="order-row"][data-id="{SPLIT["id"]}"]')
    expect(split.locator('[data-testid="order-part"]')).to_have_count(2)
    expect(split.locator('[data-testid="order-part"][data-status="closed"]')).to_contain_text("Filled")
    expect(split.locator('[data-testid="order-part"][data-status="rejected"]')).to_contain_text("margin exceeds")
    expect(split.locator('[data-testid="order-cancel"]')).to_have_count(0)  # nothing left to cancel

    # A real paper limit order far below the market rests, and shows up live.
    tid(page, "order-exchange").select_option("luno")
    tid(page, "order-type").select_option("limit")
    tid(page, "order-amount").fill("0.001")
    tid(page, "order-price").fill("100000")
    tid(page, "order-submit").click()
    expect(tid(page, "order-ok")).to_contain_text("Order open")
    resting = page.locator('[data-testid="order-row"][data-status="open"]')
    expect(resting).to_have_count(1)
    expect(resting).to_contain_text("BTC/ZAR")
    shot(page, screenshot_dir / f"orders-{size}.png")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], "the page scrolls sideways"

    cancel = resting.locator('[data-testid="order-cancel"]')
    cancel.click()
    expect(cancel).to_have_text("Confirm cancel")
    cancel.click()
    expect(page.locator('[data-testid="order-row"][data-status="open"]')).to_have_count(0)
    expect(page.locator('[data-testid="order-row"][data-status="canceled"]')).to_contain_text("Cancelled")
    assert not page.errors
