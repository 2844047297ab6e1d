"""The settings page's exchange-key form with the brokers of issue 12, in headless Chromium at 1360x900 and 390x844,
against a portal server whose Alpaca and Binance are local fakes: Alpaca appears as a broker, the testnet box is
offered only where the exchange has a sandbox (Binance), a tested key shows what it may do, and a Binance key that can
withdraw is refused until the user accepts it from its row."""

import re

import pytest

from tests.browser.server import PortalServer
from tests.browser.test_portal import register_via_api, shot, tid
from tests.fake_alpaca.server import DEFAULT_KEY as ALPACA_KEY
from tests.fake_alpaca.server import DEFAULT_SECRET as ALPACA_SECRET
from tests.fake_alpaca.server import FakeAlpaca
from tests.fake_exchange.server import DEFAULT_KEY as BINANCE_KEY
from tests.fake_exchange.server import DEFAULT_SECRET as BINANCE_SECRET
from tests.fake_exchange.server import FakeBinance

VIEWPORTS = [{"width": 1360, "height": 900}, {"width": 390, "height": 844}]


@pytest.fixture(scope="module")
def fakes():
    with FakeAlpaca() as alpaca, FakeBinance() as binance:
        binance.set_restrictions(BINANCE_KEY, enableWithdrawals=True)
        yield alpaca, binance


@pytest.fixture(scope="module")
def server(fakes):
    from tests.browser.conftest import _require_browser

    _require_browser()
    alpaca, binance = fakes
    portal = PortalServer()
    portal.env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.browser.fake_exchange_settings",
            "AMARKTAI_TEST_BINANCE_URL": binance.url,
            "ALPACA_BASE_URL": alpaca.url,
        }
    )
    portal.start()
    try:
        yield portal
    finally:
        portal.close()


@pytest.fixture
def page_at(browser, server):
    contexts = []

    def factory(viewport):
        context = browser.new_context(base_url=server.base, viewport=viewport)
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield factory
    for context in contexts:
        context.close()


def signed_in(page, server, name):
    account = register_via_api(server, name)
    page.goto("/api/system/ping")
    page.evaluate(
        "([t, r, u]) => { sessionStorage.setItem('amk.token', t); sessionStorage.setItem('amk.refresh', r);"
        " sessionStorage.setItem('amk.user', JSON.stringify(u)); }",
        [account["token"], account["refresh"], account["user"]],
    )
    page.goto("/settings")
    page.wait_for_selector("body[data-ready='1']")
    return account


def row_of(page, label):
    return tid(page, "exkey-row").filter(has_text=label)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["desktop", "phone"])
def test_alpaca_keys_testnet_and_withdraw_permissions(page_at, server, fakes, viewport, screenshot_dir):
    from playwright.sync_api import expect

    page = page_at(viewport)
    signed_in(page, server, f"keys{viewport['width']}")
    provider = tid(page, "exkey-provider")
    expect(provider.locator("option[value='alpaca']")).to_have_text("Alpaca")
    # Testnet only where the exchange has a sandbox.
    provider.select_option("alpaca")
    expect(tid(page, "exkey-testnet-field")).to_be_hidden()
    provider.select_option("binance")
    expect(tid(page, "exkey-testnet-field")).to_be_visible()
    provider.select_option("kraken")
    expect(tid(page, "exkey-testnet-field")).to_be_hidden()
    expect(tid(page, "exkey-accept-withdraw")).to_be_visible()

    # Alpaca (paper by default): the test shows what the keys may do; saved and tested from the row.
    provider.select_option("alpaca")
    tid(page, "exkey-label").fill("Alpaca paper")
    tid(page, "exkey-key").fill(ALPACA_KEY)
    tid(page, "exkey-secret").fill(ALPACA_SECRET)
    tid(page, "exkey-test").click()
    expect(tid(page, "exkey-ok")).to_have_text(re.compile(r"^API keys are valid"))
    expect(tid(page, "exkey-permissions")).to_have_text("These keys may: read, trade.")
    tid(page, "exkey-save").click()
    alpaca_row = row_of(page, "Alpaca paper")
    expect(alpaca_row).to_have_count(1)
    alpaca_row.locator('[data-testid="exkey-row-test"]').click()
    expect(alpaca_row.locator('[data-testid="exkey-row-status"]')).to_have_text("valid")
    expect(alpaca_row.locator('[data-testid="exkey-perm-trade"]')).to_be_visible()
    expect(alpaca_row.locator('[data-testid="exkey-perm-withdraw"]')).to_have_count(0)

    # Binance keys that can withdraw: refused by the test, accepted from the row, then valid.
    provider.select_option("binance")
    tid(page, "exkey-label").fill("Binance withdraw")
    tid(page, "exkey-key").fill(BINANCE_KEY)
    tid(page, "exkey-secret").fill(BINANCE_SECRET)
    tid(page, "exkey-test").click()
    expect(tid(page, "exkey-form").locator('[data-error-for="accept_withdraw"]')).to_contain_text("can withdraw")
    tid(page, "exkey-save").click()
    binance_row = row_of(page, "Binance withdraw")
    expect(binance_row).to_have_count(1)
    binance_row.locator('[data-testid="exkey-row-test"]').click()
    expect(binance_row.locator('[data-testid="exkey-row-status"]')).to_have_text("invalid")
    expect(binance_row.locator('[data-testid="exkey-row-error"]')).to_contain_text("can withdraw funds")
    expect(binance_row.locator('[data-testid="exkey-perm-withdraw"]')).to_be_visible()
    accept = binance_row.locator('[data-testid="exkey-row-accept-withdraw"]')
    accept.click()
    expect(accept).to_have_text("Confirm: keys can withdraw")
    accept.click()
    expect(binance_row.locator('[data-testid="exkey-row-status"]')).to_have_text("valid")
    expect(binance_row.locator('[data-testid="exkey-row-accept-withdraw"]')).to_have_count(0)
    expect(binance_row.locator('[data-testid="exkey-perm-withdraw"]')).to_be_visible()
    assert ALPACA_SECRET not in page.content() and BINANCE_SECRET not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "horizontal overflow"
    shot(page, screenshot_dir / f"alpaca-keys-{viewport['width']}.png")
    assert not page.errors, page.errors
