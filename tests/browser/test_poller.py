"""The bot page's Supertrend exit card in headless Chromium at 1360x900 and 390x844: setting it on the bot's open
position (a field error for a bad period), the service's first look at the candles shown (trend up, the line), and
removing it."""

import re

import pytest

from tests.browser.test_botdetail import VIEWPORTS, create_bot, manage_shell, no_sideways_scroll
from tests.browser.test_exits import SEED
from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

# One run of the Supertrend exit service over a rising series of closed 5-minute candles (shell -c: no closures).
CHECK = """
import time
from bots import supertrend_exit
step = 300_000
now = int(time.time() * 1000) // step * step
rows = [[now - (40 - i) * step, 1000000 * 1.004 ** i, 1000000 * 1.004 ** i * 1.002, 1000000 * 1.004 ** i * 0.998,
         1000000 * 1.004 ** (i + 1), 1] for i in range(40)]
supertrend_exit._market_rows = lambda source, exchange, symbol, timeframe, limit, r=rows: r[-limit:]
print(supertrend_exit.check_supertrend_exits())
"""


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_supertrend_exit_on_the_bot_page(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"supertrend{size}")
    token = account["token"]
    bot_id = create_bot(portal_server, token, "Trend Bot")
    assert api(portal_server, token, "POST", f"bots/{bot_id}/pause").status_code == 200  # the engine leaves it be
    manage_shell(portal_server, SEED.format(email=account["email"], bot_id=bot_id))
    position_id = api(portal_server, token, "GET", f"bots/{bot_id}").json()["bot"]["exits"]["position_id"]
    url = f"positions/{position_id}/supertrend-exit"

    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, account, f"/bots/{bot_id}")
    page.wait_for_selector("body[data-ready='1']")
    card = tid(page, "bot-supertrend-card")
    expect(card).to_be_visible()
    expect(tid(page, "bot-supertrend-status")).to_have_text("Off")
    expect(tid(page, "bot-supertrend-clear")).to_be_hidden()

    # A period below 2: the field error sits next to the input, nothing is saved.
    tid(page, "supertrend-period").fill("1")
    tid(page, "bot-supertrend-save").click()
    expect(page.locator('[data-error-for="period"]')).not_to_have_text("")
    assert api(portal_server, token, "GET", url).json()["supertrend_exit"] is None

    tid(page, "supertrend-period").fill("7")
    tid(page, "supertrend-multiplier").fill("2.5")
    tid(page, "supertrend-timeframe").select_option("5m")
    tid(page, "bot-supertrend-save").click()
    expect(tid(page, "bot-supertrend-ok")).to_contain_text("Saved")
    expect(tid(page, "bot-supertrend-status")).to_have_text("Waiting for the next closed candle")
    expect(tid(page, "bot-supertrend-settings")).to_have_text("period 7, multiplier 2.5, 5m candles")
    saved = api(portal_server, token, "GET", url).json()["supertrend_exit"]
    assert (saved["period"], saved["multiplier"], saved["timeframe"]) == (7, 2.5, "5m")

    # The service looks at the closed candles: the card shows the trend and the line it saw.
    manage_shell(portal_server, CHECK)
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "bot-supertrend-status")).to_have_text("Watching")
    expect(tid(page, "bot-supertrend-trend")).to_contain_text("Up")
    expect(tid(page, "bot-supertrend-line")).to_contain_text(re.compile(r"\d"))
    expect(tid(page, "supertrend-period")).to_have_value("7")
    no_sideways_scroll(page)
    card.scroll_into_view_if_needed()
    shot(page, screenshot_dir / f"60-bot-supertrend-{size}.png")

    tid(page, "bot-supertrend-clear").click()
    expect(tid(page, "bot-supertrend-status")).to_have_text("Off")
    expect(tid(page, "bot-supertrend-ok")).to_have_text("Removed.")
    assert api(portal_server, token, "GET", url).json()["supertrend_exit"] is None
    assert not page.errors, page.errors


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_supertrend_exits_on_the_dashboard(new_page, portal_server, screenshot_dir, size):
    """A manual position (no bot) gets its Supertrend exit from the dashboard's card."""
    account = register_via_api(portal_server, f"stdash{size}")
    token = account["token"]
    order = {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": 0.01}
    assert api(portal_server, token, "POST", "orders", order).status_code == 201
    [position] = api(portal_server, token, "GET", "positions").json()["positions"]
    url = f"positions/{position['id']}/supertrend-exit"

    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, account, "/dashboard")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "supertrend-card")).to_be_visible()
    row = tid(page, "supertrend-row")
    expect(row).to_have_count(1)
    expect(tid(page, "supertrend-row-state")).to_have_text("Off")
    expect(tid(page, "supertrend-row-remove")).to_be_hidden()

    tid(page, "supertrend-row-period").fill("1")
    tid(page, "supertrend-row-save").click()
    expect(tid(page, "supertrend-row-error")).to_contain_text("period")
    assert api(portal_server, token, "GET", url).json()["supertrend_exit"] is None

    tid(page, "supertrend-row-period").fill("7")
    tid(page, "supertrend-row-multiplier").fill("2.5")
    tid(page, "supertrend-row-timeframe").select_option("5m")
    tid(page, "supertrend-row-save").click()
    state = "period 7, multiplier 2.5, 5m candles · waiting for a closed candle"
    expect(tid(page, "supertrend-row-state")).to_contain_text(state)
    saved = api(portal_server, token, "GET", url).json()["supertrend_exit"]
    assert (saved["period"], saved["multiplier"], saved["timeframe"], saved["bot_id"]) == (7, 2.5, "5m", None)
    expect(tid(page, "supertrend-row-remove")).to_be_visible()
    no_sideways_scroll(page)
    tid(page, "supertrend-card").scroll_into_view_if_needed()
    shot(page, screenshot_dir / f"61-dashboard-supertrend-{size}.png")

    tid(page, "supertrend-row-remove").click()
    expect(tid(page, "supertrend-row-state")).to_have_text("Off")
    assert api(portal_server, token, "GET", url).json()["supertrend_exit"] is None
    assert not page.errors, page.errors
