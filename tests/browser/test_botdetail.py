"""The bot page (/bots/<id>) and the trades page in headless Chromium, at a desktop size (1360x900) and a phone size
(390x844), against the real server (Daphne + the embedded bot scheduler).

Trades are booked into the server's database through the trading service (a `manage.py shell` beside it), at chosen
prices and times, so the round trips, P&L and pages are known exactly; the live parts (an engine decision arriving, a
pause done elsewhere) go through the running server and its feed."""

import csv
import io
import subprocess
import sys

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid
from tests.servers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}
MANUAL_TRADES = 28

SEED = """
import uuid
from datetime import timedelta
from decimal import Decimal
from django.utils import timezone
from accounts.models import User
from bots.models import Bot
from trading import services
from trading.models import Order, Trade

user = User.objects.get(email={email!r})
bot = Bot.objects.get(pk={bot_id!r})
t0 = timezone.now() - timedelta(hours=3)

def fill(bot, side, amount, price, at):
    order = Order.objects.create(user=user, bot=bot, exchange="luno", symbol="BTC/ZAR", side=side, type="market",
        amount=Decimal(amount), status="closed", client_order_id="seed-" + uuid.uuid4().hex, is_paper=True)
    trade = services.record_fill(order, Decimal(amount), Decimal(price), Decimal("1"), "ZAR", price_source="simulated")
    Trade.objects.filter(pk=trade.pk).update(created_at=at)

fill(bot, "buy", "0.01", "1200000", t0)
fill(bot, "sell", "0.01", "1260000", t0 + timedelta(minutes=45))  # +600 - 2 fees = +598
fill(bot, "buy", "0.01", "1250000", t0 + timedelta(hours=1))  # still open
for i in range({manual}):
    at = t0 + timedelta(hours=1, minutes=i + 1)
    fill(None, "buy" if i % 2 == 0 else "sell", "0.0001", str(1200000 + 100 * i), at)
Bot.objects.filter(pk=bot.pk).update(last_error="luno: 503 Service Unavailable")
"""


def manage_shell(server, code):
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
    )


def create_bot(server, token, name, **extra):
    body = {"name": name, "exchange": "luno", "trading_mode": "paper", "initial_capital": 50000, **extra}
    resp = api(server, token, "POST", "bots", body)
    assert resp.status_code == 201, resp.text
    return resp.json()["bot"]["id"]


@pytest.fixture(scope="module")
def seeded(portal_server):
    """An account with one paused bot ("Seeded Bot": a closed round trip of +598 ZAR, an open one, a last error) and
    28 manual trades, so the trades page has two pages."""
    account = register_via_api(portal_server, "dora")
    token = account["token"]
    bot_id = create_bot(portal_server, token, "Seeded Bot", strategy="breakout", params={"position_pct": 0.1})
    assert api(portal_server, token, "POST", f"bots/{bot_id}/pause").status_code == 200  # the engine leaves it be
    manage_shell(portal_server, SEED.format(email=account["email"], bot_id=bot_id, manual=MANUAL_TRADES))
    return {**account, "bot_id": bot_id}


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_bot_page(new_page, portal_server, screenshot_dir, seeded, size):
    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, seeded, "/bots")
    link = tid(page, "bot-row-link").filter(has_text="Seeded Bot")
    link.click()
    page.wait_for_url(f"**/bots/{seeded['bot_id']}")
    page.wait_for_selector("body[data-ready='1']")

    expect(tid(page, "bot-name")).to_have_text("Seeded Bot")
    expect(tid(page, "nav-bots")).to_have_class("active")
    expect(tid(page, "bot-status-badge")).to_have_text("paused")
    # Why isn't it trading? Paused, with the last error.
    expect(tid(page, "bot-why-title")).to_have_text("Why isn't it trading?")
    expect(tid(page, "bot-activity")).to_have_attribute("data-state", "paused")
    expect(tid(page, "bot-activity")).to_contain_text("503 Service Unavailable")
    expect(tid(page, "bot-last-error")).to_have_text("luno: 503 Service Unavailable")
    expect(tid(page, "bot-params")).to_contain_text("10.0% (set)")  # its own position size
    expect(tid(page, "bot-params")).to_contain_text("lookback20 (default)")  # the breakout strategy's default
    expect(tid(page, "bot-strategy")).to_have_text("breakout")

    # Round trips: the open one first, then the closed one with its exit, duration and P&L.
    rows = tid(page, "round-trip-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-status", "open")
    expect(rows.nth(0).locator('[data-testid="round-trip-exit"]')).to_have_text("open")
    expect(rows.nth(0).locator('[data-testid="round-trip-pl"]')).to_have_text("—")
    expect(rows.nth(1)).to_have_attribute("data-status", "closed")
    expect(rows.nth(1)).to_contain_text("45m 0s")
    expect(rows.nth(1).locator('[data-testid="round-trip-pl"]')).to_contain_text("+R\u00a0598.00")
    # Every cell says what it is (phones show rows as cards).
    assert page.eval_on_selector_all("[data-testid=round-trip-row] td", "cells => cells.every(c => c.dataset.label)"), (
        "cells without data-label"
    )

    # The equity curve: the start and the one realised profit.
    expect(tid(page, "chart-line")).to_have_attribute("data-points", "2")
    expect(tid(page, "chart-total")).to_contain_text("+R\u00a0598.00")
    expect(tid(page, "bot-profit")).to_contain_text("+R\u00a0598.00")
    expect(tid(page, "bot-trades-link")).to_have_attribute("href", f"/trades?bot={seeded['bot_id']}")
    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"20-bot-page-{size}.png")


def test_a_decision_arrives_live_and_a_pause_elsewhere_shows(new_page, portal_server, screenshot_dir):
    account = register_via_api(portal_server, "ezra")
    bot_id = create_bot(portal_server, account["token"], "Ticker")
    page = new_page(viewport=VIEWPORTS["desktop"])
    open_signed_in(page, account, f"/bots/{bot_id}")
    page.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=20000)
    page.evaluate("window.__sameDocument = true")
    # The embedded scheduler ticks the bot; its first decision (and its activation) reaches the open page.
    page.wait_for_function(
        "!['waiting', ''].includes(document.querySelector('[data-testid=bot-activity]').dataset.state || '')",
        timeout=45000,
    )
    state = page.get_attribute('[data-testid="bot-activity"]', "data-state")
    decision = api(portal_server, account["token"], "GET", f"bots/{bot_id}").json()["bot"]["last_decision"]
    assert decision and state in {decision, "backing_off"}, (state, decision)
    expect(tid(page, "bot-last-decision")).not_to_have_text("—")
    expect(tid(page, "bot-last-tick")).not_to_have_text("Not yet")

    assert api(portal_server, account["token"], "POST", f"bots/{bot_id}/pause").status_code == 200
    expect(tid(page, "bot-activity")).to_have_attribute("data-state", "paused")
    expect(tid(page, "bot-activity-state")).to_have_text("Paused")
    tid(page, "bot-resume").click()
    expect(tid(page, "bot-status-badge")).not_to_have_text("paused")
    assert page.evaluate("window.__sameDocument === true")
    shot(page, screenshot_dir / "21-bot-page-live.png")


def test_another_users_bot_page_is_not_found(new_page, portal_server, seeded):
    stranger = register_via_api(portal_server, "fred")
    page = new_page(viewport=VIEWPORTS["phone"])
    open_signed_in(page, stranger, f"/bots/{seeded['bot_id']}")
    expect(tid(page, "page-error")).to_contain_text("does not exist, or it is not yours")
    expect(tid(page, "bot-detail")).to_be_hidden()
    assert tid(page, "round-trip-row").count() == 0


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_trades_page(new_page, portal_server, screenshot_dir, seeded, size):
    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, seeded, "/trades")
    total = 3 + MANUAL_TRADES
    rows = tid(page, "trade-row")
    expect(rows).to_have_count(25)
    expect(tid(page, "trades-range")).to_have_text(f"1\u201325 of {total} trades")
    # Bot column: the bot's name links to its page; manual trades say so. Opening trades show no P&L.
    cells = page.eval_on_selector_all(
        "[data-testid=trade-row]",
        "rows => rows.map(r => ({side: r.querySelector('.badge').textContent,"
        " pl: r.querySelector('[data-testid=trade-pl]').textContent,"
        " cost: r.querySelector('[data-testid=trade-cost]').textContent,"
        " labelled: [...r.cells].every(c => c.dataset.label)}))",
    )
    assert all(c["pl"] == "—" for c in cells if c["side"] == "buy")
    assert all(c["cost"].startswith("R") for c in cells) and all(c["labelled"] for c in cells)
    expect(tid(page, "trade-bot").first).to_have_text("Manual")

    # Older page, then back.
    tid(page, "trades-next").click()
    expect(tid(page, "trades-range")).to_have_text(f"26\u2013{total} of {total} trades")
    expect(rows).to_have_count(total - 25)
    link = tid(page, "trade-bot-link").first
    expect(link).to_have_text("Seeded Bot")
    expect(link).to_have_attribute("href", f"/bots/{seeded['bot_id']}")
    tid(page, "trades-prev").click()
    expect(tid(page, "trades-range")).to_have_text(f"1\u201325 of {total} trades")

    # Filters: one bot's sells; the address keeps them.
    tid(page, "filter-bot").select_option(seeded["bot_id"])
    tid(page, "filter-side").select_option("sell")
    tid(page, "filter-apply").click()
    expect(rows).to_have_count(1)
    expect(tid(page, "trades-range")).to_have_text("1\u20131 of 1 trades")
    expect(rows.first.locator('[data-testid="trade-pl"]')).to_contain_text("+R\u00a0598.00")
    assert f"bot={seeded['bot_id']}" in page.url and "side=sell" in page.url

    # The CSV export carries the same filters (downloaded with the token in a header, saved from a Blob).
    with page.expect_download() as info:
        tid(page, "trades-export").click()
    lines = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert lines[0][:4] == ["timestamp", "id", "bot_id", "bot_name"]
    assert [(r[3], r[6]) for r in lines[1:]] == [("Seeded Bot", "sell")]
    assert info.value.suggested_filename.endswith(".csv")

    # Round trips of that bot (the side filter does not apply to them).
    tid(page, "view-round-trips").click()
    expect(tid(page, "round-trip-row")).to_have_count(2)
    expect(tid(page, "trades-range")).to_have_text("1\u20132 of 2 round trips")
    expect(tid(page, "round-trip-bot-link").first).to_have_text("Seeded Bot")
    assert "view=round-trips" in page.url
    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"22-trades-round-trips-{size}.png")

    # A range that ends before it starts is refused next to the field.
    tid(page, "view-trades").click()
    tid(page, "filter-from").fill("2026-03-05")
    tid(page, "filter-to").fill("2026-03-01")
    tid(page, "filter-apply").click()
    expect(page.locator('[data-error-for="to"]')).to_contain_text("after")

    tid(page, "filter-reset").click()
    expect(tid(page, "trades-range")).to_have_text(f"1\u201325 of {total} trades")
    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"23-trades-{size}.png")


def test_admin_console_links_to_any_users_bot_page(new_page, portal_server, screenshot_dir, seeded):
    admin = register_via_api(portal_server, "gail")
    manage_shell(
        portal_server,
        f"from accounts.models import User; User.objects.filter(email={admin['email']!r}).update(is_admin=True)",
    )
    admin["user"]["is_admin"] = True
    page = new_page(viewport=VIEWPORTS["phone"])
    open_signed_in(page, admin, "/console")
    link = page.locator(f'[data-testid="admin-bot-link"][href="/bots/{seeded["bot_id"]}"]')
    link.click()
    page.wait_for_url(f"**/bots/{seeded['bot_id']}")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "bot-owner")).to_contain_text(seeded["email"])
    expect(tid(page, "bot-name")).to_have_text("Seeded Bot")
    expect(tid(page, "round-trip-row")).to_have_count(2)
    expect(tid(page, "bot-resume")).to_have_count(0)  # resuming is the owner's call
    expect(tid(page, "page-error")).to_be_hidden()
    no_sideways_scroll(page)
    shot(page, screenshot_dir / "24-bot-page-admin-phone.png")
