"""Settings -> Exchange keys for a broker with its own credential fields (OpenAlgo: API key + gateway URL, no secret),
against a fake OpenAlgo gateway, at desktop and phone sizes: the gateway URL field appears, the secret field goes,
a non-http URL is refused next to its field, the keys test names the broker, saved keys are listed masked."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_portal import open_signed_in, register_via_api, shot, tid
from tests.fake_openalgo.server import BROKER, DEFAULT_KEY, FakeOpenAlgo


@pytest.fixture
def gateway():
    with FakeOpenAlgo() as fake:
        yield fake


@pytest.mark.parametrize(
    "viewport", [{"width": 1360, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_connect_an_openalgo_gateway(new_page, portal_server, screenshot_dir, gateway, viewport):
    page = new_page(viewport=viewport)
    account = register_via_api(portal_server, "gateway")
    open_signed_in(page, account, "/settings")
    tid(page, "exkey-provider").select_option("openalgo")
    expect(tid(page, "exkey-extra-host_url")).to_be_visible()
    expect(tid(page, "exkey-secret-field")).to_be_hidden()
    tid(page, "exkey-key").fill(DEFAULT_KEY)
    tid(page, "exkey-extra-host_url").fill("file:///etc/passwd")
    tid(page, "exkey-save").click()
    expect(tid(page, "exkey-form").locator('[data-error-for="host_url"]')).not_to_be_empty()
    tid(page, "exkey-extra-host_url").fill(gateway.url)
    tid(page, "exkey-test").click()
    expect(tid(page, "exkey-ok")).to_have_text(f"API keys are valid: OpenAlgo gateway, broker {BROKER}")
    assert gateway.count("ping") == 1
    tid(page, "exkey-save").click()
    expect(tid(page, "exkey-row")).to_have_count(1)
    expect(tid(page, "exkey-row")).to_contain_text("OpenAlgo")
    tid(page, "exkey-row-test").click()
    expect(tid(page, "exkey-row-status")).to_have_text("valid")
    assert DEFAULT_KEY not in page.content()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"the settings page overflows sideways ({width}px)"
    shot(page, screenshot_dir / f"openalgo-keys-{viewport['width']}.png")
    assert not page.errors, page.errors
