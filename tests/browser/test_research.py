"""The Research page in headless Chromium against the real server (embedded: backtests run on the server's research
thread), at 1360x900 and at 390x844: run a backtest from the form, follow its progress, see the charts (Lightweight
Charts canvases), the metrics, walk-forward and Monte Carlo summaries and the trade list; compare two runs; field
errors from the API show under their fields."""

import pytest

from tests.browser.test_portal import open_signed_in, register_via_api, shot, tid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}


def no_page_overflow(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def run_from_form(page, strategy, timeframe="5m", days="2", walk_forward=False, monte_carlo="0"):
    tid(page, "bt-strategy").select_option(strategy)
    tid(page, "bt-timeframe").select_option(timeframe)
    tid(page, "bt-days").fill(days)
    tid(page, "bt-monte-carlo").fill(monte_carlo)
    if walk_forward:
        tid(page, "bt-walk-forward").check()
    else:
        tid(page, "bt-walk-forward").uncheck()
    tid(page, "bt-run").click()
    expect(tid(page, "bt-current")).to_be_visible()
    expect(tid(page, "bt-progress")).to_have_attribute("data-status", "done", timeout=90_000)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_research_runs_charts_and_compares_backtests(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"research{size}")
    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, account, "/research")
    if size == "desktop":
        expect(tid(page, "nav-research")).to_have_attribute("aria-current", "page")
    expect(tid(page, "bt-runs-empty")).to_be_visible()

    # A field error from the API lands under its field.
    tid(page, "bt-params").fill('{"nope": 1}')
    tid(page, "bt-run").click()
    expect(page.locator('[data-error-for="params"]')).not_to_be_empty()
    tid(page, "bt-params").fill("")

    tid(page, "bt-exchange").select_option("binance")
    tid(page, "bt-symbol").select_option("BTC/USDT")
    run_from_form(page, "momentum", walk_forward=True, monte_carlo="50")
    expect(tid(page, "bt-progress-bar")).to_have_attribute("style", "width: 100%;")
    expect(tid(page, "bt-result")).to_be_visible()
    for metric in ("bt-m-return", "bt-m-hold", "bt-m-drawdown", "bt-m-sharpe", "bt-m-fees", "bt-m-trades"):
        expect(tid(page, metric)).not_to_be_empty()
    expect(tid(page, "bt-chart-equity").locator("canvas").first).to_be_visible()
    expect(tid(page, "bt-chart-drawdown").locator("canvas").first).to_be_visible()
    expect(tid(page, "bt-wf-summary")).to_contain_text("out-of-sample")
    expect(tid(page, "bt-mc-summary")).to_contain_text("reshuffles")
    trades = int(tid(page, "bt-m-trades").inner_text())
    assert trades > 0
    assert tid(page, "bt-trade-row").count() == min(trades, 500)

    run_from_form(page, "mean_reversion")
    rows = tid(page, "bt-run-row")
    expect(rows).to_have_count(2)
    expect(rows.locator('[data-testid="bt-run-status"]').first).to_have_text("done")
    expect(rows.nth(1).locator('[data-testid="bt-run-return"]')).not_to_have_text("—")
    # Open the first run again from the comparison table.
    rows.nth(1).locator('[data-testid="bt-run-open"]').click()
    expect(tid(page, "bt-title")).to_contain_text("momentum")
    expect(tid(page, "bt-wf-summary")).to_be_visible()

    assert no_page_overflow(page), "the page must not scroll sideways"
    assert page.errors == []
    shot(page, str(screenshot_dir / f"research-{size}.png"))
