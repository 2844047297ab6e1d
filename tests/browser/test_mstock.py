"""Connecting an mStock account in the portal (Settings → Exchange keys) at 1360x900 and 390x844: the provider's own
fields (client code, TOTP secret) appear for mStock only, a TOTP secret that is not base32 is refused next to its field,
"Test keys" logs in at the fake mStock with a real TOTP check, and the saved key is listed and tested without any secret
on the page. The portal server here is the test's own, pointed at the fake mStock (MSTOCK_BASE_URL)."""

import re

import pytest

from tests.browser.conftest import SCREENSHOTS, _require_browser
from tests.browser.demo_data import register
from tests.browser.server import PortalServer
from tests.fake_mstock.server import DEFAULT_CLIENT, DEFAULT_KEY, DEFAULT_SECRET, FakeMStock

SIZES = {"desktop": (1360, 900), "mobile": (390, 844)}
SPACED_SECRET = "jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp"  # DEFAULT_TOTP_SECRET as an authenticator app shows it


def tid(page, testid):
    return page.locator(f'[data-testid="{testid}"]')


@pytest.fixture(scope="module")
def mstock_portal():
    _require_browser()
    with FakeMStock() as fake:
        server = PortalServer()
        server.env["MSTOCK_BASE_URL"] = fake.url
        server.start()
        try:
            yield server, fake
        finally:
            server.close()


@pytest.fixture
def mstock_page(browser, mstock_portal):
    contexts = []

    def factory(width, height):
        server, _ = mstock_portal
        context = browser.new_context(base_url=server.base, viewport={"width": width, "height": height})
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield factory
    for context in contexts:
        context.close()


def sign_in(page, client, path):
    page.goto("/api/system/ping")
    page.evaluate(
        "([t, r, u]) => { sessionStorage.setItem('amk.token', t); sessionStorage.setItem('amk.refresh', r);"
        " sessionStorage.setItem('amk.user', JSON.stringify(u)); }",
        [client.account["token"], client.account["refresh"], client.account["user"]],
    )
    page.goto(path)
    page.wait_for_selector("body[data-ready='1']")


@pytest.mark.parametrize("size", list(SIZES))
def test_connect_an_mstock_account(mstock_page, mstock_portal, size):
    from playwright.sync_api import expect

    server, fake = mstock_portal
    width, height = SIZES[size]
    client = register(server.base, f"Priya-{size}")
    page = mstock_page(width, height)
    sign_in(page, client, "/settings")

    form = tid(page, "exkey-form")
    expect(tid(page, "exkey-extra-client_code")).to_have_count(0)  # a crypto exchange asks for key and secret only
    tid(page, "exkey-provider").select_option("mstock")
    expect(tid(page, "exkey-extra-client_code")).to_be_visible()
    expect(tid(page, "exkey-extra-totp_secret")).to_have_attribute("type", "password")
    expect(form).to_contain_text("TOTP secret")
    tid(page, "exkey-label").fill("NSE account")
    tid(page, "exkey-key").fill(DEFAULT_KEY)
    tid(page, "exkey-secret").fill(DEFAULT_SECRET)
    tid(page, "exkey-extra-client_code").fill(DEFAULT_CLIENT)
    tid(page, "exkey-extra-totp_secret").fill("not base32 018")
    tid(page, "exkey-save").click()
    expect(form.locator('[data-error-for="totp_secret"]')).to_contain_text("base32")
    expect(tid(page, "exkey-row")).to_have_count(0)

    logins = fake.logins
    tid(page, "exkey-extra-totp_secret").fill(SPACED_SECRET)
    tid(page, "exkey-test").click()
    expect(tid(page, "exkey-ok")).to_have_text(re.compile(r"^API keys are valid"))
    assert fake.logins == logins + 1  # a real TOTP login at the fake mStock

    tid(page, "exkey-save").click()
    expect(tid(page, "exkey-row")).to_have_count(1)
    expect(tid(page, "exkey-row")).to_contain_text("mStock")
    expect(tid(page, "exkey-extra-totp_secret")).to_have_value("")  # the form forgets the secret once saved
    tid(page, "exkey-row-test").click()
    expect(tid(page, "exkey-row-status")).to_contain_text("valid")
    content = page.content()
    assert "JBSWY3DP" not in content.upper().replace(" ", "") and DEFAULT_SECRET not in content
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing overflows sideways
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / f"mstock-keys-{size}.png", full_page=True)

    tid(page, "exkey-provider").select_option("binance")
    expect(tid(page, "exkey-extra-client_code")).to_have_count(0)
    assert not page.errors, page.errors
