"""The Signals and Watchlist pages in headless Chromium against the real server, at 1360x900 and at 390x844.

Signals shown for filtering and paging are written into the server's database by a `manage.py shell` run (strategy
decisions on the simulated feed come when they come); the live test waits for real ones from the server's own bots.
"""

import subprocess
import sys

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid
from tests.servers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}

SEED = """
from datetime import timedelta
from decimal import Decimal
from django.utils import timezone
from accounts.models import User
from bots.models import StrategySignal
user = User.objects.get(email=EMAIL)
now = timezone.now()
for i in range(30):
    StrategySignal.objects.create(
        user=user, bot=None, bot_name="Seeded", exchange="luno", symbol="ETH/ZAR" if i % 3 == 0 else "BTC/ZAR",
        strategy="breakout" if i % 2 else "momentum", trading_mode="paper", side="sell" if i % 2 else "buy",
        entry_price=Decimal(1000 + i), target=None, stop_loss=None, confidence=Decimal(50 + i), reason=f"seeded {i}",
        outcome="traded", candle_ts=i, created_at=now - timedelta(minutes=i + 1),
    )
"""


def seed_signals(server, email):
    """30 signals of the user, one a minute back from now: i = 0..29, sells at odd i, confidence 50 + i %."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", f"EMAIL = {email!r}\n{SEED}"],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
    )


def no_page_overflow(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_signals_filters_and_pages(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"sig{size}")
    seed_signals(portal_server, account["email"])
    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, account, "/signals")
    expect(tid(page, "nav-signals")).to_have_attribute("aria-current", "page")
    rows = tid(page, "signal-row")
    expect(rows).to_have_count(25)
    expect(rows.first.locator('[data-testid="signal-confidence"]')).to_have_text("50%")
    assert rows.first.locator("td").first.get_attribute("data-label") == "Time"
    assert page.locator("table thead th").count() == 10
    expect(tid(page, "signals-next")).to_be_enabled()
    expect(tid(page, "signals-prev")).to_be_disabled()
    shot(page, screenshot_dir / f"signals-{size}.png")

    tid(page, "signals-next").click()  # the cursor page after the first 25
    expect(rows).to_have_count(5)
    expect(rows.last.locator('[data-testid="signal-confidence"]')).to_have_text("79%")
    expect(tid(page, "signals-next")).to_be_disabled()
    tid(page, "signals-prev").click()
    expect(rows).to_have_count(25)

    tid(page, "signals-side").select_option("sell")
    tid(page, "signals-min-confidence").fill("75")
    tid(page, "signals-apply").click()
    expect(rows).to_have_count(3)  # i = 25, 27, 29
    for side in rows.locator('[data-testid="signal-side"]').all_text_contents():
        assert side == "SELL"
    tid(page, "signals-symbol").fill("eth/zar")
    tid(page, "signals-apply").click()
    expect(rows).to_have_count(1)  # i = 27
    expect(rows.first.locator('[data-testid="signal-symbol"]')).to_have_text("ETH/ZAR")

    # A time range that ends before it starts: the API's field error, next to "To".
    tid(page, "signals-since").fill("2026-03-02T10:00")
    tid(page, "signals-until").fill("2026-03-01T10:00")
    tid(page, "signals-apply").click()
    expect(tid(page, "signals-filter").locator('[data-error-for="until"]')).not_to_be_empty()
    expect(rows).to_have_count(1)  # the last good result stays
    tid(page, "signals-reset").click()
    expect(rows).to_have_count(25)
    assert no_page_overflow(page)
    assert not page.errors


def test_new_signals_arrive_live(new_page, portal_server, screenshot_dir):
    """Bots of the server trade on the simulated feed; a mean reversion over 2 candles decides on almost every candle.
    The open page shows their signals as they come, without a reload."""
    account = register_via_api(portal_server, "sigslive")
    page = new_page(viewport=VIEWPORTS["desktop"])
    open_signed_in(page, account, "/signals")
    page.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=20000)
    expect(tid(page, "signals-empty")).to_be_visible()
    for symbol in ("BTC/ZAR", "ETH/ZAR", "XRP/ZAR", "SOL/ZAR"):
        created = api(
            portal_server,
            account["token"],
            "POST",
            "bots",
            {
                "name": f"Revert {symbol}",
                "exchange": "luno",
                "symbol": symbol,
                "strategy": "mean_reversion",
                "initial_capital": 2000,
                "params": {"period": 2, "entry_z": 0.1, "exit_z": 0.0001},
            },
        )
        assert created.status_code == 201, created.text
    page.wait_for_selector('[data-testid="signal-row"]', timeout=120000)
    row = tid(page, "signal-row").first
    expect(row.locator('[data-testid="signal-bot"]')).to_contain_text("Revert")
    listed = api(portal_server, account["token"], "GET", "signals").json()["signals"]
    assert row.get_attribute("data-id") in {s["id"] for s in listed}
    assert not page.errors


@pytest.mark.parametrize("size", VIEWPORTS)
def test_watchlist_add_edit_remove_with_field_errors(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"watch{size}")
    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, account, "/watchlist")
    expect(tid(page, "watch-empty")).to_be_visible()
    form = tid(page, "watch-form")

    tid(page, "watch-exchange").select_option("luno")
    tid(page, "watch-symbol").select_option("ETH/ZAR")
    tid(page, "watch-above").fill("50000")
    tid(page, "watch-below").fill("60000")
    tid(page, "watch-submit").click()
    expect(form.locator('[data-error-for="alert_below"]')).not_to_be_empty()
    expect(tid(page, "watch-below")).to_have_class("invalid")

    tid(page, "watch-below").fill("40000")
    tid(page, "watch-notes").fill("range trade")
    tid(page, "watch-submit").click()
    rows = tid(page, "watch-row")
    expect(rows).to_have_count(1)
    expect(rows.first.locator('[data-testid="watch-row-notes"]')).to_have_text("range trade")
    assert rows.first.locator("td").nth(1).get_attribute("data-label") == "Pair"

    # The same market again: refused, next to the pair.
    tid(page, "watch-symbol").select_option("ETH/ZAR")
    tid(page, "watch-submit").click()
    expect(form.locator('[data-error-for="symbol"]')).to_contain_text("already on your watch list")
    expect(rows).to_have_count(1)

    rows.first.locator('[data-testid="watch-edit"]').click()
    expect(tid(page, "watch-submit")).to_have_text("Save changes")
    expect(tid(page, "watch-notes")).to_have_value("range trade")
    tid(page, "watch-notes").fill("breakout watch")
    tid(page, "watch-above").fill("")
    tid(page, "watch-submit").click()
    expect(rows.first.locator('[data-testid="watch-row-notes"]')).to_have_text("breakout watch")
    expect(rows.first.locator('[data-testid="watch-row-above"]')).to_have_text("—")
    expect(tid(page, "watch-submit")).to_have_text("Add to watch list")
    assert no_page_overflow(page)
    shot(page, screenshot_dir / f"watchlist-{size}.png")

    delete = rows.first.locator('[data-testid="watch-delete"]')
    delete.click()
    delete.click()
    expect(rows).to_have_count(0)
    expect(tid(page, "watch-empty")).to_be_visible()
    assert not page.errors


def test_a_price_alert_fires_in_the_open_page(new_page, portal_server):
    """An alert level the price has already passed fires at the server's next check (every PRICE_ALERT_SECONDS): the
    toast appears and the row says when and at what price, once."""
    account = register_via_api(portal_server, "watchalert")
    page = new_page(viewport=VIEWPORTS["desktop"])
    open_signed_in(page, account, "/watchlist")
    page.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=20000)
    tid(page, "watch-exchange").select_option("luno")
    tid(page, "watch-symbol").select_option("BTC/ZAR")
    tid(page, "watch-above").fill("1")
    tid(page, "watch-submit").click()
    expect(tid(page, "watch-row")).to_have_count(1)
    expect(tid(page, "watch-fired-above")).to_be_visible(timeout=60000)
    expect(tid(page, "toast").filter(has_text="BTC/ZAR on Luno rose to or above 1")).to_have_count(1)
    assert not page.errors
