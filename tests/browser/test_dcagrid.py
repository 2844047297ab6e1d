"""DCA and grid bots in headless Chromium at 1360x900 and 390x844: created through the bots page's form (with its
per-strategy params and field errors), then ticked over a scripted price path (a `manage.py shell` beside the server
runs the engine's managed path with the paper exchange's ticker set by the test), and shown on the bot page: the DCA
ladder (filled base and safety order, the next one resting, average and take profit) and the grid's levels (resting
orders, a completed grid)."""

import subprocess
import sys
from decimal import Decimal

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid
from tests.servers import ROOT
from trading.exchanges import simfeed

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}

TICK = """
from decimal import Decimal
from django.db import transaction
from bots import managed
from bots.models import Bot
from trading.exchanges import get_exchange, simfeed

def at(mid):
    mid = Decimal(mid)
    half = mid * Decimal("0.0002")
    simfeed.ticker = lambda symbol, now=None: {{"symbol": symbol, "bid": (mid - half).quantize(Decimal("0.01")),
        "ask": (mid + half).quantize(Decimal("0.01")), "last": mid, "timestamp": 0}}

for mid in {path!r}:
    at(mid)
    with transaction.atomic():
        bot = Bot.objects.select_for_update().get(pk={bot_id!r})
        exchange = get_exchange(bot.user, bot.exchange, bot.trading_mode)
        exchange.match_open_orders(bot.symbol)
        managed.tick(bot, exchange)
"""


def run_ticks(server, bot_id, path):
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", TICK.format(bot_id=bot_id, path=path)],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def fill_form(page, name, strategy, capital, params):
    tid(page, "bot-name").fill(name)
    tid(page, "bot-strategy").select_option(strategy)
    tid(page, "bot-capital").fill(str(capital))
    for key, value in params.items():
        field = tid(page, f"bot-param-{key}")
        if isinstance(value, bool):
            field.set_checked(value)
        elif key in ("spacing", "on_range_exit"):
            field.select_option(value)
        else:
            field.fill(str(value))


def bot_id_named(server, token, name):
    bots = api(server, token, "GET", "bots").json()["bots"]
    return next(b["id"] for b in bots if b["name"] == name)


def scale():
    """The server's paper exchange also matches resting orders against its own simulated price (the periodic order
    sync), so the scripted path is laid around that price: px(1_000_000) is the simulated BTC/ZAR price now (the feed
    is a deterministic function of time, the same in every process), the other points in proportion."""
    factor = Decimal(str(simfeed.ticker("BTC/ZAR")["last"])) / Decimal(1_000_000)
    return lambda value: str((Decimal(value) * factor).quantize(Decimal("1")))


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_dca_and_grid_bots_from_form_to_page(new_page, portal_server, screenshot_dir, size):
    px = scale()
    account = register_via_api(portal_server, f"dcagrid{size}")
    token = account["token"]
    # The kill switch first: new bots are created paused, so the embedded scheduler never ticks them on its own prices;
    # the test ticks them over its scripted path instead.
    assert api(portal_server, token, "POST", "trading/stop", {}).status_code == 200
    page = new_page(VIEWPORTS[size])
    page.clock.install()  # real time, but the bot page's 15 s quiet refresh can be brought forward (fast_forward below)
    open_signed_in(page, account, "/bots")
    expect(tid(page, "bot-form")).to_be_visible()

    # DCA: the generated form shows its own params (no exits and protections section); the required ones start empty,
    # marked, and are checked before sending; orders that do not fit the capital are a field error.
    tid(page, "bot-strategy").select_option("dca")
    expect(tid(page, "bot-param-field-base_order")).to_be_visible()
    expect(tid(page, "bot-param-field-lower_price")).to_have_count(0)
    expect(tid(page, "bot-params-advanced")).to_have_count(0)
    expect(tid(page, "bot-param-base_order")).to_have_value("")
    expect(tid(page, "bot-param-required-base_order")).to_be_visible()
    expect(tid(page, "bot-param-max_safety_orders")).to_have_value("5")
    fill_form(page, "DCA Bot", "dca", 5000, {})
    tid(page, "bot-create").click()
    expect(page.locator('[data-error-for="params.base_order"]')).to_contain_text("Required")
    expect(page.locator('[data-error-for="params.safety_order"]')).to_contain_text("Required")
    dca = {
        "base_order": 1000,
        "safety_order": 1000,
        "max_safety_orders": 3,
        "price_deviation": 0.02,
        "volume_multiplier": 2,
        "take_profit": 0.03,
    }
    fill_form(page, "DCA Bot", "dca", 5000, dca)
    tid(page, "bot-create").click()
    expect(page.locator('[data-error-for="initial_capital"]')).to_contain_text("8000")
    tid(page, "bot-capital").fill("20000")
    tid(page, "bot-create").click()
    expect(tid(page, "bot-row-name").filter(has_text="DCA Bot")).to_be_visible()

    # Grid: a range that is not a range is refused on its field.
    fill_form(
        page,
        "Grid Bot",
        "grid",
        30000,
        {"lower_price": 1100000, "upper_price": 900000, "grids": 4, "investment": 20000, "spacing": "arithmetic"},
    )
    expect(tid(page, "bot-param-field-lower_price")).to_be_visible()
    expect(tid(page, "bot-param-field-base_order")).to_have_count(0)
    expect(tid(page, "bot-param-trailing_up")).not_to_be_checked()  # a boolean: a checkbox
    tid(page, "bot-create").click()
    expect(page.locator('[data-error-for="params.upper_price"]')).to_contain_text("above lower_price")
    fill_form(page, "Grid Bot", "grid", 30000, {"lower_price": px(900000), "upper_price": px(1100000)})
    tid(page, "bot-create").click()
    expect(tid(page, "bot-row-name").filter(has_text="Grid Bot")).to_be_visible()

    dca_id, grid_id = bot_id_named(portal_server, token, "DCA Bot"), bot_id_named(portal_server, token, "Grid Bot")
    for bot_id in (dca_id, grid_id):
        assert api(portal_server, token, "GET", f"bots/{bot_id}").json()["bot"]["status"] == "paused"
    # One user, one market: each path runs against the other bot's resting orders too, so the grid goes first and the
    # DCA path (1M, 975k) crosses none of the grid's levels.
    run_ticks(portal_server, grid_id, [px(1000000), px(1000000), px(945000), px(1004000)])  # one grid completed
    run_ticks(portal_server, dca_id, [px(1000000), px(1000000), px(975000)])  # base, then safety order 1 fills

    page.goto(f"/bots/{dca_id}")
    expect(tid(page, "bot-managed")).to_be_visible()
    expect(tid(page, "bot-managed-title")).to_have_text("DCA deal 1")
    expect(tid(page, "bot-managed-state")).to_have_text("Deal open")
    expect(tid(page, "dca-filled")).to_have_text("1 of 3")
    steps = tid(page, "dca-step")
    expect(steps).to_have_count(4)
    expect(steps.nth(0)).to_have_attribute("data-status", "closed")
    expect(steps.nth(1)).to_have_attribute("data-status", "closed")
    expect(steps.nth(2)).to_have_attribute("data-status", "open")
    expect(steps.nth(3)).to_have_attribute("data-status", "pending")
    expect(tid(page, "dca-average")).not_to_have_text("—")
    expect(tid(page, "grid-levels-wrap")).to_be_hidden()
    shot(page, screenshot_dir / f"dcagrid-dca-{size}.png")

    page.goto(f"/bots/{grid_id}")
    expect(tid(page, "bot-managed-title")).to_have_text("Grid")
    expect(tid(page, "grid-completed")).to_have_text("1")
    levels = tid(page, "grid-level")
    expect(levels).to_have_count(5)
    expect(page.locator('[data-testid="grid-level"][data-status="open"]')).to_have_count(4)
    expect(page.locator('[data-testid="grid-level"][data-side="buy"]')).to_have_count(2)
    expect(tid(page, "dca-ladder-wrap")).to_be_hidden()
    expect(tid(page, "bot-param").filter(has_text="arithmetic")).to_have_count(1)
    shot(page, screenshot_dir / f"dcagrid-grid-{size}.png")

    # Live: the price falls through the 950k buy; the open page shows the new sell without a reload (the ticks run in
    # another process, so the page's quiet refresh picks it up rather than the feed).
    run_ticks(portal_server, grid_id, [px(945000)])
    managed = api(portal_server, token, "GET", f"bots/{grid_id}").json()["bot"]["managed"]
    assert [level["side"] for level in managed["levels"]] == ["sell", "sell", "sell", None, "buy"]
    page.clock.fast_forward(15000)
    expect(page.locator('[data-testid="grid-level"][data-side="buy"]')).to_have_count(1, timeout=40000)
    if size == "phone":  # tables become cards: nothing wider than the screen
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1
