"""The Models page (/research/models) in headless Chromium against the real server, at 1360x900 and at 390x844: run a
parameter search, deploy its best parameters to a bot through the confirmation, and see the ranking table update."""

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", VIEWPORTS)
def test_search_deploy_and_ranking_table(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"rank{size}")
    token = account["token"]
    created = api(
        portal_server,
        token,
        "POST",
        "bots",
        {
            "name": f"Ranked {size}",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "initial_capital": "100",
            "strategy": "momentum",
        },
    )
    assert created.status_code == 201, created.text
    bot_id = created.json()["bot"]["id"]

    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, account, "/research/models")
    expect(tid(page, "nav-research")).to_have_attribute("aria-current", "page")

    tid(page, "opt-strategy").select_option("momentum")
    tid(page, "opt-exchange").select_option("binance")
    tid(page, "opt-symbol").select_option("BTC/USDT")
    tid(page, "opt-timeframe").select_option("1m")
    tid(page, "opt-trials").fill("4")
    tid(page, "opt-candles").fill("200")
    tid(page, "opt-submit").click()
    # The search runs on the server's research thread; its completion arrives on the live feed and reloads the list.
    expect(tid(page, "opt-status").first).to_have_text("completed", timeout=60_000)
    expect(tid(page, "opt-oos").first).not_to_have_text("—")
    tid(page, "opt-show").first.click()
    expect(tid(page, "opt-result")).not_to_have_count(0)
    expect(tid(page, "model-row")).not_to_have_count(0)  # the best set joined the ranking table

    tid(page, "opt-deploy-best").first.click()
    expect(tid(page, "deploy-panel")).to_be_visible()
    box = page.locator(f'[data-testid="deploy-bot"][value="{bot_id}"]')
    expect(box).to_be_checked()  # same market: chosen by default
    tid(page, "deploy-review").click()
    expect(tid(page, "deploy-dialog")).to_be_visible()
    assert "momentum" in tid(page, "deploy-dialog-text").first.text_content()
    shot(page, screenshot_dir / f"models-deploy-{size}.png")
    tid(page, "deploy-dialog-confirm").click()
    expect(tid(page, "deploy-panel")).to_be_hidden()
    # The ranking table now counts the bot under the deployed model. The ranking is shared by every user, and another
    # search on the same market (this test's other size) can rank the same best params as a model of its own, which
    # then counts this bot too: at least one row, and no row counts more than the one bot this user has.
    expect(page.locator('[data-testid="model-your-bots"]', has_text="1").first).to_be_visible()
    assert all(text.strip() in {"0", "1", "—", ""} for text in tid(page, "model-your-bots").all_inner_texts())

    bot = api(portal_server, token, "GET", f"bots/{bot_id}").json()
    opts = api(portal_server, token, "GET", "optimizations").json()["optimizations"]
    best = opts[0]["results"][0]["params"]
    data = bot.get("bot") or bot.get("data") or bot
    assert data["strategy"] == "momentum"
    assert {k: data["params"][k] for k in best} == best
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, screenshot_dir / f"models-{size}.png")
