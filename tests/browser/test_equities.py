"""Stocks in the portal, at desktop and phone sizes:

- the exchange-key form renders a provider's extra credential fields from /api/providers (text, url, choice; secret
  ones as password inputs; required ones marked; help text), hides the API secret when the provider needs none, and
  posts the fields in ``extra``; the stored key list shows a key's non-secret settings;
- the trades page's order form offers stop orders, time in force and the product on a stock market only, and places a
  real paper order on a crypto market.

The live server is a separate process, so the stock broker the forms are shown for is added in the browser: the test
answers /api/providers, /api/system/platforms and /api/keys itself (Playwright routes) with the real answers plus one
stock platform, exactly the shape the server gives for a platform with extra fields.
"""

import json

import pytest

from tests.browser.test_portal import open_signed_in, register_via_api, shot, tid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

SIZES = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}

BROKER_PROVIDER = {
    "id": "paperbroker",
    "type": "broker",
    "display_name": "Paper Broker",
    "required_fields": ["api_key", "client_code", "totp_secret"],
    "fields": [
        {
            "name": "client_code",
            "label": "Client code",
            "secret": False,
            "required": True,
            "kind": "text",
            "choices": [],
            "default": "",
            "help": "The code your broker gave you",
        },
        {
            "name": "totp_secret",
            "label": "TOTP secret",
            "secret": True,
            "required": True,
            "kind": "text",
            "choices": [],
            "default": "",
            "help": "The base32 secret of your authenticator",
        },
        {
            "name": "host",
            "label": "Gateway URL",
            "secret": False,
            "required": False,
            "kind": "url",
            "choices": [],
            "default": "",
            "help": "",
        },
        {
            "name": "account",
            "label": "Account",
            "secret": False,
            "required": True,
            "kind": "choice",
            "choices": ["paper", "live"],
            "default": "paper",
            "help": "",
        },
    ],
    "supports_testnet": False,
    "icon": "paperbroker.svg",
    "description": "Paper Broker broker",
}
BROKER_PLATFORM = {
    "id": "paperbroker",
    "name": "Paper Broker",
    "display_name": "Paper Broker",
    "enabled": True,
    "bot_limit": 5,
    "supports_paper": True,
    "supports_live": True,
    "icon": "S",
    "color": "#222222",
    "region": "US",
    "quote_currency": "USD",
    "symbols": ["AAPL/USD", "MSFT/USD"],
    "currencies": ["AAPL", "MSFT", "USD"],
    "kind": "stock",
    "supports_testnet": False,
}
STORED_KEY = {
    "id": "7d1c1f5e-0000-4000-8000-000000000001",
    "platform": "paperbroker",
    "provider": "paperbroker",
    "label": "Broker",
    "api_key_masked": "ab****yz",
    "settings": {"client_code": "AB1234", "account": "paper"},
    "permissions": None,
    "keys_valid": None,
    "last_checked_at": None,
}


def add_broker(page):
    """Answer the catalogue and the key list with the real answers plus the stock broker; record what is posted."""
    posted = []

    def providers(route):
        data = route.fetch().json()
        data["providers"].append(BROKER_PROVIDER)
        route.fulfill(json=data)

    def platforms(route):
        data = route.fetch().json()
        data["platforms"].append(BROKER_PLATFORM)
        route.fulfill(json=data)

    def keys(route):
        request = route.request
        if request.method == "POST":
            posted.append(json.loads(request.post_data))
            route.fulfill(status=201, json={"success": True, "credential": STORED_KEY})
        elif posted:  # once saved, the list holds the stored key
            route.fulfill(json={"success": True, "keys": [STORED_KEY]})
        else:
            route.continue_()

    def orders(route):
        if route.request.method == "POST" and json.loads(route.request.post_data).get("exchange") == "paperbroker":
            body = json.loads(route.request.post_data)
            posted.append(body)
            order = {**body, "id": "1", "status": "open", "filled": 0, "average": None, "amount": body["amount"]}
            route.fulfill(status=201, json={"success": True, "order": order})
        else:
            route.continue_()

    page.route("**/api/providers", providers)
    page.route("**/api/system/platforms", platforms)
    page.route("**/api/keys", keys)
    page.route("**/api/orders", orders)
    return posted


@pytest.mark.parametrize("size", SIZES)
def test_key_form_renders_a_brokers_fields(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"equitykeys{size}")
    page = new_page(viewport=SIZES[size])
    posted = add_broker(page)
    open_signed_in(page, account, "/settings")
    form = tid(page, "exkey-form")

    # A crypto exchange: an API secret, no extra fields.
    tid(page, "exkey-provider").select_option("binance")
    expect(tid(page, "exkey-secret-field")).to_be_visible()
    expect(tid(page, "exkey-extra-field")).to_have_count(0)

    # The broker: its four fields, the secret one as a password, required ones marked, no API secret asked.
    tid(page, "exkey-provider").select_option("paperbroker")
    expect(tid(page, "exkey-extra-field")).to_have_count(4)
    expect(tid(page, "exkey-secret-field")).to_be_hidden()
    assert tid(page, "exkey-extra-totp_secret").get_attribute("type") == "password"
    assert tid(page, "exkey-extra-client_code").get_attribute("type") == "text"
    assert tid(page, "exkey-extra-host").get_attribute("type") == "url"
    assert tid(page, "exkey-extra-account").evaluate("el => el.tagName") == "SELECT"
    assert tid(page, "exkey-extra-account").input_value() == "paper"
    client = form.locator('[data-testid="exkey-extra-field"][data-name="client_code"]')
    expect(client).to_contain_text("Client code *")
    expect(client).to_contain_text("The code your broker gave you")
    expect(form.locator('[data-testid="exkey-extra-field"][data-name="host"]')).not_to_contain_text("*")
    shot(page, screenshot_dir / f"equities-keyform-{size}.png")

    tid(page, "exkey-label").fill("Broker")
    tid(page, "exkey-key").fill("key-123")
    tid(page, "exkey-extra-client_code").fill("AB1234")
    tid(page, "exkey-extra-totp_secret").fill("JBSWY3DPEHPK3PXP")
    tid(page, "exkey-extra-account").select_option("live")
    tid(page, "exkey-save").click()
    expect(tid(page, "exkey-ok")).to_contain_text("Keys saved")
    body = posted[-1]
    assert body["provider"] == "paperbroker" and body["api_key"] == "key-123" and "api_secret" not in body
    assert body["extra"] == {"client_code": "AB1234", "totp_secret": "JBSWY3DPEHPK3PXP", "account": "live"}
    # The secret field is emptied; the list shows the stored key's settings (never a secret).
    assert tid(page, "exkey-extra-totp_secret").input_value() == ""
    settings = tid(page, "exkey-row-settings")
    expect(settings).to_have_text("Client code: AB1234 · Account: paper")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], "the page scrolls sideways"
    assert not page.errors


@pytest.mark.parametrize("size", SIZES)
def test_order_form_offers_stock_options_on_stock_markets(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"equityorders{size}")
    page = new_page(viewport=SIZES[size])
    posted = add_broker(page)
    open_signed_in(page, account, "/trades")

    # A crypto market: market and limit only, no stock options; a real paper order.
    tid(page, "order-exchange").select_option("luno")
    expect(tid(page, "order-tif-field")).to_be_hidden()
    expect(tid(page, "order-product-field")).to_be_hidden()
    assert tid(page, "order-type").locator("option:not([hidden])").all_inner_texts() == ["Market", "Limit"]
    tid(page, "order-type").select_option("limit")
    expect(tid(page, "order-price-field")).to_be_visible()
    tid(page, "order-type").select_option("market")
    tid(page, "order-amount").fill("0.001")
    tid(page, "order-submit").click()
    expect(tid(page, "order-ok")).to_contain_text("Order closed: 0.001 filled at")

    # A stock market: stop orders, time in force, product, whole shares.
    tid(page, "order-exchange").select_option("paperbroker")
    expect(tid(page, "order-symbol")).to_have_value("AAPL/USD")
    expect(tid(page, "order-tif-field")).to_be_visible()
    expect(tid(page, "order-product-field")).to_be_visible()
    expect(tid(page, "order-lot-hint")).to_be_visible()
    tid(page, "order-type").select_option("stop_limit")
    expect(tid(page, "order-stop-field")).to_be_visible()
    expect(tid(page, "order-price-field")).to_be_visible()
    tid(page, "order-side").select_option("sell")
    tid(page, "order-amount").fill("3")
    tid(page, "order-price").fill("180")
    tid(page, "order-stop-price").fill("181")
    tid(page, "order-tif").select_option("day")
    tid(page, "order-product").select_option("CNC")
    shot(page, screenshot_dir / f"equities-orderform-{size}.png")
    tid(page, "order-submit").click()
    expect(tid(page, "order-ok")).to_contain_text("Order open")
    assert posted[-1] == {
        "exchange": "paperbroker",
        "symbol": "AAPL/USD",
        "side": "sell",
        "type": "stop_limit",
        "amount": 3,
        "price": 180,
        "stop_price": 181,
        "time_in_force": "day",
        "product": "CNC",
    }
    # Back on crypto the stop type falls back to market.
    tid(page, "order-exchange").select_option("luno")
    expect(tid(page, "order-type")).to_have_value("market")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], "the page scrolls sideways"
    assert not page.errors
