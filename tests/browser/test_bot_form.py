"""The create-bot form generated from GET /api/strategies, for every kind of param, in headless Chromium at 1360x900 and
390x844: a grid bot's enum (a select with its default chosen) and boolean (a checkbox) arrive at the API as a string
and a boolean; an indicator bot's exits and protections sit folded in "Exits and protections", only the changed ones
are sent, and an out-of-range one unfolds the section with its error."""

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}


def bot_named(portal_server, token, name):
    return next(b for b in api(portal_server, token, "GET", "bots").json()["bots"] if b["name"] == name)


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_every_param_type_and_the_folded_exits(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"botform{size}")
    token = account["token"]
    assert api(portal_server, token, "POST", "trading/stop", {}).status_code == 200  # nothing trades meanwhile
    page = new_page(VIEWPORTS[size])
    open_signed_in(page, account, "/bots")

    # Momentum: its own params in view, the exits and protections folded away (closed), all off.
    advanced = tid(page, "bot-params-advanced")
    expect(advanced).to_have_count(1)
    assert advanced.evaluate("(d) => d.tagName") == "DETAILS" and advanced.get_attribute("open") is None
    expect(tid(page, "bot-param-tp1_at_pct")).to_be_hidden()
    expect(tid(page, "bot-params-group-exits")).to_contain_text("Exits")
    expect(tid(page, "bot-params-group-protections")).to_contain_text("Protections")
    expect(tid(page, "bot-params-advanced-count")).to_have_text("all off")
    expect(tid(page, "bot-param-fast")).to_be_visible()

    # An exit out of range: refused before sending, on its field, and the section unfolds to show it.
    tid(page, "bot-name").fill(f"Exits {size}")
    tid(page, "bot-capital").fill("100")
    tid(page, "bot-params-advanced-toggle").click()
    tid(page, "bot-param-tp1_size_pct").fill("150")
    tid(page, "bot-params-advanced-toggle").click()  # folded again
    tid(page, "bot-create").click()
    expect(advanced).to_have_attribute("open", "")
    expect(page.locator('[data-error-for="params.tp1_size_pct"]')).to_contain_text("at most 100")
    tid(page, "bot-param-tp1_size_pct").fill("50")
    tid(page, "bot-param-tp1_at_pct").fill("10")
    tid(page, "bot-param-cooldown_minutes").fill("30")
    expect(tid(page, "bot-params-advanced-count")).to_have_text("3 set")
    shot(page, screenshot_dir / f"botform-exits-{size}.png")
    tid(page, "bot-create").click()
    expect(tid(page, "bot-row-name").filter(has_text=f"Exits {size}")).to_be_visible()
    params = bot_named(portal_server, token, f"Exits {size}")["params"]
    # the strategy's own params as shown, and only the exits and protections that were changed
    assert params == {"fast": 5, "slow": 20, "min_roc": 0, "tp1_at_pct": 10, "tp1_size_pct": 50, "cooldown_minutes": 30}
    # after creating, the form is back to the defaults, folded
    expect(tid(page, "bot-param-tp1_at_pct")).to_have_value("0")
    assert tid(page, "bot-params-advanced").get_attribute("open") is None

    # Grid: no exits section; required params empty and marked; an enum is a select with its default chosen; a boolean
    # is a checkbox; their values reach the API as a string and a boolean.
    tid(page, "bot-strategy").select_option("grid")
    expect(tid(page, "bot-params-advanced")).to_have_count(0)
    expect(tid(page, "bot-params-fields")).not_to_contain_text("null")
    expect(tid(page, "bot-strategy-description")).to_contain_text("between a lower and an upper price")
    for name in ("lower_price", "upper_price", "investment"):
        expect(tid(page, f"bot-param-{name}")).to_have_value("")
        expect(tid(page, f"bot-param-{name}")).to_have_attribute("placeholder", "Required")
        expect(tid(page, f"bot-param-required-{name}")).to_be_visible()
    spacing = tid(page, "bot-param-spacing")
    assert spacing.evaluate("(s) => s.tagName") == "SELECT"
    expect(spacing).to_have_value("arithmetic")
    expect(tid(page, "bot-param-on_range_exit")).to_have_value("keep")
    trailing = tid(page, "bot-param-trailing_up")
    assert trailing.get_attribute("type") == "checkbox"
    expect(trailing).not_to_be_checked()
    tid(page, "bot-name").fill(f"Grid {size}")
    tid(page, "bot-capital").fill("50000")
    tid(page, "bot-param-lower_price").fill("0")  # exclusiveMinimum 0: checked here like the server does
    tid(page, "bot-param-upper_price").fill("1100000")
    tid(page, "bot-create").click()
    expect(page.locator('[data-error-for="params.lower_price"]')).to_contain_text("greater than 0")
    expect(page.locator('[data-error-for="params.investment"]')).to_contain_text("Required")
    tid(page, "bot-param-lower_price").fill("900000")
    tid(page, "bot-param-investment").fill("20000")
    spacing.select_option("geometric")
    trailing.check()
    shot(page, screenshot_dir / f"botform-grid-{size}.png")
    tid(page, "bot-create").click()
    expect(tid(page, "bot-row-name").filter(has_text=f"Grid {size}")).to_be_visible()
    params = bot_named(portal_server, token, f"Grid {size}")["params"]
    assert params["spacing"] == "geometric" and params["trailing_up"] is True and params["on_range_exit"] == "keep"
    assert params["lower_price"] == 900000 and params["investment"] == 20000 and params["grids"] == 10
    if size == "phone":
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert not page.errors, page.errors
