"""Operating the platform in headless Chromium, at desktop (1360x900) and phone (390x844) sizes: the kill switch in
the top bar, Settings > Trading and risk (field errors, export download, import with a dry run first) and the admins'
System control page."""

import json
import subprocess
import sys

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

SIZES = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}
RESTING_BUY = {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "limit", "amount": 0.01, "price": 500000}


def _bot(server, account, name, exchange="luno", capital=5000):
    resp = api(
        server,
        account["token"],
        "POST",
        "bots",
        {
            "name": name,
            "exchange": exchange,
            "trading_mode": "paper",
            "initial_capital": capital,
            "strategy": "momentum",
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["bot"]["id"]


def _fits(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "horizontal overflow"


def _make_admin(server, account):
    from tests.servers import ROOT

    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            f"from accounts.models import User; User.objects.filter(email={account['email']!r}).update(is_admin=True)",
        ],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
    )
    account["user"]["is_admin"] = True


@pytest.mark.parametrize("size", sorted(SIZES))
def test_kill_switch_stops_everything_with_one_click(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"kim{size}")
    bots = [_bot(portal_server, account, "Alpha"), _bot(portal_server, account, "Beta")]
    order = api(portal_server, account["token"], "POST", "orders", RESTING_BUY).json()["order"]
    assert order["status"] == "open"

    page = new_page(viewport=SIZES[size])
    open_signed_in(page, account, "/bots")
    wait_live(page)
    switch = tid(page, "killswitch")
    expect(switch).to_have_text("Trading on")
    _fits(page)
    switch.click()
    dialog = tid(page, "killswitch-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Every one of your bots pauses")
    tid(page, "killswitch-close-positions").check()
    shot(page, screenshot_dir / f"control-killswitch-confirm-{size}.png")
    tid(page, "killswitch-confirm").click()
    expect(switch).to_have_attribute("data-state", "stopped")
    expect(switch).to_have_text("Trading stopped")
    expect(tid(page, "toast").filter(has_text="Trading stopped")).to_be_visible()
    for bot_id in bots:  # every bot row turns paused live, without a reload
        page.wait_for_selector(f'[data-testid="bot-row"][data-id="{bot_id}"][data-status="paused"]')
    assert api(portal_server, account["token"], "GET", f"orders/{order['id']}").json()["order"]["status"] == "canceled"
    shot(page, screenshot_dir / f"control-killswitch-stopped-{size}.png")

    # Every page shows it.
    page.goto("/dashboard")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "killswitch")).to_have_attribute("data-state", "stopped")
    _fits(page)

    # Start again: only the bots the stop paused resume.
    tid(page, "killswitch").click()
    expect(tid(page, "killswitch-dialog")).to_contain_text("The 2 bots the stop paused resume")
    tid(page, "killswitch-confirm").click()
    expect(tid(page, "killswitch")).to_have_attribute("data-state", "running")
    statuses = {b["status"] for b in api(portal_server, account["token"], "GET", "bots").json()["bots"]}
    assert statuses <= {"active", "created"}
    assert not page.errors, page.errors


@pytest.mark.parametrize("size", sorted(SIZES))
def test_settings_export_and_import_into_a_second_account(new_page, portal_server, screenshot_dir, size, tmp_path):
    source = register_via_api(portal_server, f"sam{size}")
    _bot(portal_server, source, "Exported Bot", exchange="valr", capital=1500)

    page = new_page(viewport=SIZES[size])
    open_signed_in(page, source, "/settings")
    tid(page, "settings-trading-link").click()
    page.wait_for_url("**/settings/trading")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "risk-default_risk_mode")).to_have_value("balanced")
    _fits(page)

    # A bad value is refused next to its field; a good one is saved.
    tid(page, "risk-max_position_pct").fill("250")
    tid(page, "risk-daily_loss_limit").fill("-5")
    tid(page, "risk-save").click()
    form = tid(page, "config-risk")
    expect(form.locator('[data-error-for="max_position_pct"]')).not_to_be_empty()
    expect(form.locator('[data-error-for="daily_loss_limit"]')).not_to_be_empty()
    tid(page, "risk-max_position_pct").fill("25")
    tid(page, "risk-daily_loss_limit").fill("400")
    tid(page, "risk-default_risk_mode").select_option("safe")
    tid(page, "risk-save").click()
    expect(tid(page, "risk-ok")).to_have_text("Saved.")
    tid(page, "notifications-daily_summary").check()
    tid(page, "notifications-save").click()
    expect(tid(page, "notifications-ok")).to_have_text("Saved.")
    shot(page, screenshot_dir / f"control-settings-{size}.png")

    with page.expect_download() as download_info:
        tid(page, "config-export").click()
    path = tmp_path / "setup.json"
    download_info.value.save_as(path)
    document = json.loads(path.read_text())
    assert document["version"] == 1 and document["config"]["risk"]["daily_loss_limit"] == 400.0
    assert [b["name"] for b in document["bots"]] == ["Exported Bot"]
    assert source["email"] not in path.read_text()

    # A second account: dry run first (nothing changes), then apply.
    target = register_via_api(portal_server, f"tia{size}")
    other = new_page(viewport=SIZES[size])
    open_signed_in(other, target, "/settings/trading")
    tid(other, "import-file").set_input_files(str(path))
    tid(other, "import-check").click()
    expect(tid(other, "import-preview")).to_be_visible()
    expect(tid(other, "import-summary")).to_contain_text("Would create 1")
    expect(other.locator('[data-testid="import-item"][data-kind="bot"][data-action="created"]')).to_have_count(1)
    expect(other.locator('[data-testid="import-item"][data-kind="config"][data-action="updated"]')).to_have_count(2)
    assert api(portal_server, target["token"], "GET", "bots").json()["bots"] == []
    _fits(other)
    shot(other, screenshot_dir / f"control-import-preview-{size}.png")
    tid(other, "import-apply").click()
    expect(tid(other, "import-summary")).to_contain_text("Created 1")
    expect(tid(other, "risk-daily_loss_limit")).to_have_value("400")
    expect(tid(other, "risk-default_risk_mode")).to_have_value("safe")
    bots = api(portal_server, target["token"], "GET", "bots").json()["bots"]
    assert [(b["name"], b["status"], b["exchange"]) for b in bots] == [("Exported Bot", "paused", "valr")]

    # The Bots page's form starts from the settings' defaults.
    other.goto("/bots")
    other.wait_for_selector("body[data-ready='1']")
    expect(tid(other, "bot-risk")).to_have_value("safe")
    expect(tid(other, "bot-capital")).to_have_value("1000")
    other.goto("/settings/trading")
    other.wait_for_selector("body[data-ready='1']")

    # A file that is not a set-up is refused and changes nothing.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "bots": [{"name": "X", "strategy": "astrology"}]}))
    tid(other, "import-file").set_input_files(str(bad))
    tid(other, "import-check").click()
    expect(tid(other, "import-error")).to_contain_text("bots[0].strategy")
    assert len(api(portal_server, target["token"], "GET", "bots").json()["bots"]) == 1
    assert not page.errors and not other.errors, (page.errors, other.errors)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_admin_system_control(new_page, portal_server, screenshot_dir, size):
    admin = register_via_api(portal_server, f"ada{size}")
    _make_admin(portal_server, admin)
    user = register_via_api(portal_server, f"uma{size}")
    try:
        # A user cannot use the page.
        page = new_page(viewport=SIZES[size])
        open_signed_in(page, user, "/console/control")
        expect(tid(page, "page-error")).to_be_visible()
        wait_live(page)

        console = new_page(viewport=SIZES[size])
        open_signed_in(console, admin, "/console")
        tid(console, "console-control-link").click()
        console.wait_for_url("**/console/control")
        console.wait_for_selector("body[data-ready='1']")
        expect(tid(console, "system-state")).to_have_attribute("data-status", "running")
        expect(tid(console, "engine-config")).to_contain_text("tick seconds")
        _fits(console)
        tid(console, "system-reason").fill("exchange maintenance")
        tid(console, "system-stop").click()
        tid(console, "system-stop").click()  # armed: the second click confirms
        expect(tid(console, "system-state")).to_have_attribute("data-status", "stopped")
        expect(tid(console, "system-detail")).to_contain_text("exchange maintenance")
        shot(console, screenshot_dir / f"control-system-stopped-{size}.png")

        # The user's open page hears it at once, and their orders are refused.
        expect(tid(page, "killswitch")).to_have_text("System stopped")
        refused = api(portal_server, user["token"], "POST", "orders", RESTING_BUY)
        assert refused.status_code == 503 and refused.json()["error_code"] == "TRADING_HALTED"

        tid(console, "system-start").click()
        expect(tid(console, "system-state")).to_have_attribute("data-status", "running")
        expect(tid(page, "killswitch")).to_have_text("Trading on")
        tid(console, "system-restart").click()
        tid(console, "system-restart").click()
        expect(tid(console, "system-detail")).to_contain_text("restart")
        assert api(portal_server, user["token"], "POST", "orders", RESTING_BUY).status_code == 201
        assert not page.errors and not console.errors, (page.errors, console.errors)
    finally:
        api(portal_server, admin["token"], "POST", "system/start", {})  # never leave the shared server stopped


@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_reached_risk_limit_shows_on_the_bots_page(new_page, portal_server, size):
    """A daily loss limit reached (here by a manual round trip's fees) stops the bot's entries: the alert pops up on
    the open page and the reason shows on the bot."""
    account = register_via_api(portal_server, f"rex{size}")
    for side in ("buy", "sell"):  # fees and the spread make it a small realised loss
        market = {"exchange": "luno", "symbol": "BTC/ZAR", "side": side, "type": "market", "amount": 0.001}
        assert api(portal_server, account["token"], "POST", "orders", market).status_code == 201
    saved = api(portal_server, account["token"], "PUT", "config/risk", {"daily_loss_limit": 0.01})
    assert saved.status_code == 200, saved.text
    page = new_page(viewport=SIZES[size])
    open_signed_in(page, account, "/bots")
    wait_live(page)
    bot_id = _bot(portal_server, account, "Limited")  # flat, so its first tick meets the limit
    # The embedded scheduler ticks the bot within BOT_TICK_SECONDS; the alert arrives on the live feed.
    expect(tid(page, "toast").filter(has_text="Daily loss limit reached")).to_be_visible(timeout=45000)
    bot = api(portal_server, account["token"], "GET", f"bots/{bot_id}").json()["bot"]
    assert "Daily loss limit reached" in bot["risk_block"]
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    row = page.locator(f'[data-testid="bot-row"][data-id="{bot_id}"]')
    expect(row.locator('[data-testid="bot-risk-block"]')).to_contain_text("Daily loss limit reached")
    _fits(page)
    assert not page.errors, page.errors
