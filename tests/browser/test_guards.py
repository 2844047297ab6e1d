"""Guards a trader can see, in headless Chromium at 1360x900 and 390x844: closing a position with confirmation
(and what Pause and Delete say about it first), an admin lock as its owner sees it, and plain-words transfers."""

import subprocess
import sys

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid
from tests.servers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = [
    pytest.param({"width": 1360, "height": 900}, id="desktop"),
    pytest.param({"width": 390, "height": 844}, id="mobile"),
]


def shell(server, code):
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server.env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def quiet_bot(server, token, name):
    """A paper bot that never trades by itself: it enters only after the price doubled over its fast window."""
    resp = api(
        server,
        token,
        "POST",
        "bots",
        {"name": name, "exchange": "luno", "initial_capital": 20000, "strategy": "momentum", "params": {"min_roc": 1}},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["bot"]["id"]


def buy_for(server, bot_id, amount="0.001"):
    """Open a position for the bot the way the engine does: a paper market buy booked to the bot."""
    shell(
        server,
        "from django.db import transaction\n"
        "from bots.models import Bot\n"
        "from trading import services as t\n"
        "from trading.exchanges import get_exchange\n"
        f"b = Bot.objects.get(pk='{bot_id}')\n"
        "with transaction.atomic():\n"
        "    t.place_order(b.user, get_exchange(b.user, 'luno', 'paper'), symbol='BTC/ZAR', side='buy', type='market',"
        f" amount='{amount}', bot=b, is_paper=True, reason='test buy')\n",
    )


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def dialog_fits(page, testid):
    box = tid(page, testid).bounding_box()
    size = page.viewport_size
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 1, (box, size)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_close_a_position_with_confirmation(new_page, portal_server, screenshot_dir, viewport):
    owner = register_via_api(portal_server, "olga")
    token = owner["token"]
    bot_id = quiet_bot(portal_server, token, "Olga Bot")
    buy_for(portal_server, bot_id)

    page = new_page(viewport=viewport)
    open_signed_in(page, owner, "/bots")
    row = page.locator(f'[data-testid="bot-row"][data-id="{bot_id}"]')
    expect(row.locator('[data-testid="bot-position"]')).to_contain_text("Open position: 0.001 BTC (BTC/ZAR on luno)")
    no_sideways_scroll(page)

    # Pause says what happens to the open position before anything happens; Cancel changes nothing.
    row.locator('[data-testid="bot-pause"]').click()
    expect(tid(page, "pause-dialog")).to_be_visible()
    expect(tid(page, "pause-dialog")).to_contain_text("Its open position, 0.001 BTC (BTC/ZAR on luno), stays open")
    expect(tid(page, "pause-dialog")).to_contain_text("stop loss and take profit are not watched")
    dialog_fits(page, "pause-dialog")
    tid(page, "pause-dialog-cancel").click()
    expect(tid(page, "pause-dialog")).to_have_count(0)
    assert api(portal_server, token, "GET", f"bots/{bot_id}").json()["bot"]["status"] in {"created", "active"}

    # Delete says the position is sold first.
    row.locator('[data-testid="bot-delete"]').click()
    expect(tid(page, "delete-dialog")).to_contain_text(
        "Olga Bot first sells its open position, 0.001 BTC (BTC/ZAR on luno), at market"
    )
    expect(tid(page, "delete-dialog")).to_contain_text("Its trades stay in your history.")
    tid(page, "delete-dialog-cancel").click()
    expect(row).to_have_count(1)

    # Close: the confirmation says what is sold and where the P&L goes; only Confirm sells.
    row.locator('[data-testid="position-close"]').click()
    dialog = tid(page, "close-dialog")
    expect(dialog).to_contain_text("Sell 0.001 BTC (BTC/ZAR on luno) at market now.")
    expect(dialog).to_contain_text("The profit or loss is booked to Olga Bot.")
    dialog_fits(page, "close-dialog")
    shot(page, screenshot_dir / f"guards-close-dialog-{viewport['width']}.png")
    tid(page, "close-dialog-confirm").click()
    expect(tid(page, "toast").filter(has_text="Position closed")).to_have_count(1)
    expect(row.locator('[data-testid="bot-position"]')).to_have_count(0)
    assert api(portal_server, token, "GET", "positions").json()["positions"] == []
    sells = [t for t in api(portal_server, token, "GET", "trades").json()["trades"] if t["side"] == "sell"]
    assert len(sells) == 1 and sells[0]["bot_id"] == bot_id

    # Without a position, Delete says so, and deletes on confirmation.
    row.locator('[data-testid="bot-delete"]').click()
    expect(tid(page, "delete-dialog")).to_contain_text("Olga Bot holds no open position.")
    tid(page, "delete-dialog-confirm").click()
    expect(row).to_have_count(0)
    no_sideways_scroll(page)
    assert not page.errors, page.errors


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_admin_lock_as_the_owner_sees_it(new_page, portal_server, screenshot_dir, viewport):
    owner = register_via_api(portal_server, "paul")
    bot_id = quiet_bot(portal_server, owner["token"], "Paul Bot")
    admin = register_via_api(portal_server, "quinn")
    shell(
        portal_server,
        f"from accounts.models import User; User.objects.filter(email={admin['email']!r}).update(is_admin=True)",
    )

    page = new_page(viewport=viewport)
    open_signed_in(page, owner, "/bots")
    page.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=20000)
    row = page.locator(f'[data-testid="bot-row"][data-id="{bot_id}"]')
    expect(row).to_have_count(1)

    resp = api(portal_server, admin["token"], "POST", f"admin/bot/{bot_id}/pause", {"reason": "Unusual order volume"})
    assert resp.status_code == 200, resp.text
    # Live, without a reload: who paused it (a display name, never the admin's email) and why; no Resume button.
    expect(row.locator('[data-testid="bot-lock"]')).to_have_text(
        "Paused by an administrator (Quinn): Unusual order volume. Only an administrator can resume it."
    )
    expect(row.locator('[data-testid="bot-locked"]')).to_be_visible()
    expect(row.locator('[data-testid="bot-resume"]')).to_have_count(0)
    assert admin["email"] not in row.inner_text()
    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"guards-admin-lock-{viewport['width']}.png")

    # The API refuses the owner too, with its own error code.
    refused = api(portal_server, owner["token"], "POST", f"bots/{bot_id}/resume")
    assert refused.status_code == 409 and refused.json()["error_code"] == "BOT_LOCKED_BY_ADMIN"

    # Released by the admin: the note goes and Resume comes back, live.
    released = api(portal_server, admin["token"], "POST", f"admin/bot/{bot_id}/unlock", {})
    assert released.status_code == 200, released.text
    expect(row.locator('[data-testid="bot-lock"]')).to_have_count(0)
    row.locator('[data-testid="bot-resume"]').click()
    page.wait_for_selector(f'[data-testid="bot-row"][data-id="{bot_id}"][data-status="active"]')
    assert not page.errors, page.errors


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_wallet_says_what_a_transfer_is(new_page, portal_server, screenshot_dir, viewport):
    owner = register_via_api(portal_server, "rita")
    page = new_page(viewport=viewport)
    open_signed_in(page, owner, "/wallet")
    expect(tid(page, "transfer-explainer")).to_contain_text("A transfer is an entry in your ledger, not a payment")
    expect(tid(page, "transfer-statuses")).to_contain_text("Withdrawn before it was carried out.")

    # ZAR to Binance cannot work: the page says which currencies the pair shares, and the refusal is in plain words.
    tid(page, "transfer-from").select_option("luno")
    tid(page, "transfer-to").select_option("binance")
    expect(tid(page, "transfer-pair-hint")).to_have_text("Luno and Binance both hold: BTC, ETH, SOL, USDC, USDT, XRP.")
    tid(page, "transfer-currency").fill("ZAR")
    tid(page, "transfer-amount").fill("250")
    tid(page, "transfer-submit").click()
    refusal = page.locator('[data-testid="transfer-form"] [data-error-for="currency"]')
    expect(refusal).to_contain_text("Binance does not hold ZAR, so ZAR cannot be sent to it.")
    form_text = tid(page, "transfer-form").inner_text()
    assert "from_provider" not in form_text and "to_provider" not in form_text

    # A transfer that can work: recorded as pending, with what to do next and what the status means.
    tid(page, "transfer-to").select_option("valr")
    tid(page, "transfer-submit").click()
    expect(tid(page, "transfer-ok")).to_have_text(
        "Transfer recorded as pending: 250 ZAR is set aside on your Luno paper account. Mark it completed to move it "
        "to VALR (or cancel it to free it again)."
    )
    transfer = tid(page, "transfer-row")
    expect(transfer).to_have_count(1)
    expect(transfer.locator('[data-testid="transfer-status-text"]')).to_contain_text("Recorded, not yet carried out.")
    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"guards-wallet-{viewport['width']}.png")
    transfer.locator('[data-testid="transfer-cancel"]').click()
    expect(page.locator('[data-testid="transfer-row"][data-status="canceled"]')).to_have_count(1)
    expect(transfer.locator('[data-testid="transfer-status-text"]')).to_contain_text("free again")
    assert not page.errors, page.errors


def test_a_reload_of_the_bots_list_keeps_the_rows_that_did_not_change(new_page, portal_server):
    """The bots page reloads its list whenever a bot arrives (and updates rows on every tick): rows that show the same
    are kept with their buttons, so a click landing on Pause at that moment is not lost (CI lost one: no dialog)."""
    owner = register_via_api(portal_server, "pavel")
    token = owner["token"]
    bot_id = quiet_bot(portal_server, token, "Pavel Bot")
    buy_for(portal_server, bot_id)
    page = new_page(viewport={"width": 1360, "height": 900})
    open_signed_in(page, owner, "/bots")
    row = page.locator(f'[data-testid="bot-row"][data-id="{bot_id}"]')
    expect(row.locator('[data-testid="bot-position"]')).to_contain_text("Open position: 0.001 BTC")
    row.locator('[data-testid="bot-pause"]').evaluate("(b) => { b.dataset.marked = '1'; }")
    other = quiet_bot(portal_server, token, "Pavel Two")  # its bot_update makes the page load its list again
    expect(page.locator(f'[data-testid="bot-row"][data-id="{other}"]')).to_have_count(1)
    expect(row.locator('[data-testid="bot-pause"][data-marked="1"]')).to_have_count(1)  # the same button, kept
    row.locator('[data-testid="bot-pause"]').click()
    expect(tid(page, "pause-dialog")).to_be_visible()
