"""The web portal in headless Chromium against the real server (Daphne + embedded scheduler, migrated temp DB).

Everything goes through the UI a person uses; the API is called directly only to drive the world from outside (a trade
placed by another client, a bot resumed elsewhere) so we can see the open page update live, without a reload.
"""

import itertools
import re
import time

import httpx
import pytest

from tests.helpers import start_of_fresh_totp_step

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

PASSWORD = "Portal-pass-9071"
_seq = itertools.count()


def unique_email(name):
    return f"{name}.{int(time.time() * 1000)}.{next(_seq)}@example.com"


def tid(page, testid):
    return page.locator(f'[data-testid="{testid}"]')


def token_of(page):
    """The page's access token: it lives in the page's memory only (the refresh token is an HttpOnly cookie)."""
    return page.evaluate("window.amarktai && window.amarktai.session.token")


def api(server, token, method, path, json=None):
    return httpx.request(
        method, f"{server.base}/api/{path}", json=json, timeout=15, headers={"Authorization": f"Bearer {token}"}
    )


def place_trade(server, token, side="buy", amount="0.001"):
    resp = api(
        server,
        token,
        "POST",
        "orders",
        {"exchange": "luno", "symbol": "BTC/ZAR", "side": side, "type": "market", "amount": amount},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["order"]


def wait_live(page, timeout=20000):
    page.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=timeout)


def register_via_api(server, name):
    email = unique_email(name)
    resp = httpx.post(
        f"{server.base}/api/auth/register",
        timeout=15,
        json={"email": email, "password": PASSWORD, "first_name": name.title()},
    )
    assert resp.status_code == 200, resp.text
    return {"email": email, **resp.json()}


def open_signed_in(page, account, path="/dashboard"):
    """Start a signed-in tab for an account created through the API. The refresh token is handed over the way an older
    portal kept it (sessionStorage); the page rotates it into its HttpOnly cookie on load and keeps no token there."""
    page.goto("/api/system/ping")  # any page of the origin (the login page would redirect a signed-in browser)
    page.evaluate(
        "([t, r, u]) => { sessionStorage.setItem('amk.token', t); sessionStorage.setItem('amk.refresh', r);"
        " sessionStorage.setItem('amk.user', JSON.stringify(u)); }",
        [account["token"], account["refresh"], account["user"]],
    )
    page.goto(path)
    page.wait_for_selector("body[data-ready='1']")


def shot(page, path):
    """A full-page screenshot from the top (the sticky top bar stays where a reader expects it)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)


def pause_from_the_page(page, row, bot_id):
    """Click Pause; if the bot holds an open position (it may have bought while active) the page first says what happens
    to it: confirm."""
    row.locator('[data-testid="bot-pause"]').click()
    paused = f'[data-testid="bot-row"][data-id="{bot_id}"][data-status="paused"]'
    page.wait_for_selector(f'[data-testid="pause-dialog"], {paused}')
    if tid(page, "pause-dialog").count():
        tid(page, "pause-dialog-confirm").click()
    page.wait_for_selector(paused)


def signup(page, name, email):
    page.goto("/signup")
    tid(page, "signup-first-name").fill(name)
    tid(page, "signup-email").fill(email)
    tid(page, "signup-password").fill(PASSWORD)
    tid(page, "signup-submit").click()
    page.wait_for_url(re.compile(r"/security/two-factor"))


def test_user_journey(new_page, portal_server, screenshot_dir):
    import pyotp

    page = new_page()
    email = unique_email("alice")

    # Sign up, then enrol 2FA with a code computed from the secret the page shows.
    signup(page, "Alice", email)
    page.screenshot(path=screenshot_dir / "01-two-factor-start.png")
    tid(page, "2fa-enroll").click()
    tid(page, "2fa-secret").wait_for()
    secret = tid(page, "2fa-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    assert page.eval_on_selector(
        '[data-testid="2fa-qr"]', "img => img.src.startsWith('data:image/png') && img.naturalWidth > 0"
    )
    tid(page, "2fa-code").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    tid(page, "2fa-verify").click()
    expect(tid(page, "2fa-verify-form").locator('[data-error-for="totp_code"]')).to_contain_text("invalid")
    page.screenshot(path=screenshot_dir / "02-two-factor-qr.png")
    totp = pyotp.TOTP(secret)
    # Enrol well inside one time step: a code checked a step late leaves the device with a drift of -1, and the "next
    # step" code used at login below would then fall outside django-otp's window.
    start_of_fresh_totp_step()
    tid(page, "2fa-code").fill(totp.now())
    tid(page, "2fa-verify").click()
    tid(page, "2fa-enabled").wait_for()

    # Log out; logging back in asks for a code. (django-otp refuses a reused code: use the next time step's code,
    # which its default tolerance of one step accepts.)
    tid(page, "2fa-continue").click()
    page.wait_for_url(re.compile(r"/dashboard"))
    tid(page, "logout").click()
    page.wait_for_url(re.compile(r"/login"))
    assert token_of(page) is None
    tid(page, "login-email").fill(email)
    tid(page, "login-password").fill("wrong-password-1")
    tid(page, "login-submit").click()
    expect(tid(page, "login-error")).to_contain_text("Invalid")
    tid(page, "login-password").fill(PASSWORD)
    tid(page, "login-submit").click()
    tid(page, "totp-step").wait_for()
    page.screenshot(path=screenshot_dir / "03-login-totp.png")
    tid(page, "login-totp").fill(totp.at(time.time() + 30))
    tid(page, "login-submit").click()
    page.wait_for_url(re.compile(r"/dashboard"))
    page.wait_for_selector("body[data-ready='1']")

    # Create a paper bot; a bad capital is refused next to the field.
    tid(page, "nav-bots").click()
    page.wait_for_selector("body[data-ready='1']")
    tid(page, "bot-name").fill("Alpha Trader")
    tid(page, "bot-exchange").select_option("luno")
    expect(tid(page, "bot-capital-ccy")).to_have_text("(ZAR)")
    tid(page, "bot-strategy").select_option("momentum")
    tid(page, "bot-risk").select_option("balanced")
    tid(page, "bot-capital").fill("0")
    tid(page, "bot-create").click()
    expect(tid(page, "bot-form").locator('[data-error-for="initial_capital"]')).not_to_be_empty()
    tid(page, "bot-capital").fill("10000")
    tid(page, "bot-create").click()
    row = tid(page, "bot-row").filter(has_text="Alpha Trader")
    row.wait_for()
    expect(row).to_contain_text("R\u00a010\u00a0000.00")
    bot_id = row.get_attribute("data-id")

    # The dashboard shows a trade the moment it executes, without a reload.
    tid(page, "nav-dashboard").click()
    page.wait_for_selector("body[data-ready='1']")
    wait_live(page)
    page.evaluate("window.__sameDocument = true")
    before = tid(page, "trade-row").count()
    token = token_of(page)
    place_trade(portal_server, token)
    page.wait_for_function(f"document.querySelectorAll('[data-testid=trade-row]').length > {before}")
    assert page.evaluate("window.__sameDocument === true")
    first = tid(page, "trade-row").first.inner_text()
    assert "BTC/ZAR" in first and "buy" in first.lower()
    page.wait_for_function("document.querySelector('[data-testid=metric-capital]').textContent.startsWith('R')")
    place_trade(portal_server, token, side="sell")
    page.wait_for_function(f"document.querySelectorAll('[data-testid=trade-row]').length > {before + 1}")
    page.wait_for_selector('[data-testid="chart-line"]')
    assert page.evaluate("window.__sameDocument === true")
    shot(page, screenshot_dir / "04-dashboard.png")

    # Bots page: pause from the UI; a resume done elsewhere shows up live; pause again.
    tid(page, "nav-bots").click()
    page.wait_for_selector("body[data-ready='1']")
    wait_live(page)
    row = page.locator(f'[data-testid="bot-row"][data-id="{bot_id}"]')
    pause_from_the_page(page, row, bot_id)
    page.evaluate("window.__sameDocument = true")
    resp = api(portal_server, token, "POST", f"bots/{bot_id}/resume")
    assert resp.status_code == 200, resp.text
    page.wait_for_selector(f'[data-testid="bot-row"][data-id="{bot_id}"][data-status="active"]')
    assert page.evaluate("window.__sameDocument === true")
    pause_from_the_page(page, row, bot_id)
    assert api(portal_server, token, "GET", "bots").json()["bots"][0]["status"] == "paused"
    shot(page, screenshot_dir / "05-bots.png")

    # Trades page lists every trade: the two placed above, plus any the bot made while it was active.
    total = api(portal_server, token, "GET", "trades").json()["total"]
    assert total >= 2
    tid(page, "nav-trades").click()
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "trade-row")).to_have_count(min(total, 25))  # the page shows 25 a page
    expect(tid(page, "trades-range")).to_contain_text(" of ")
    # Every paper trade of the embedded set-up was priced by the simulated feed, and the page says so.
    expect(tid(page, "trade-source").first).to_have_text("Simulated feed")
    sources = page.eval_on_selector_all("[data-testid=trade-source]", "cells => cells.map(c => c.dataset.source)")
    assert sources and set(sources) == {"simulated"}
    shot(page, screenshot_dir / "06-trades.png")

    # Assistant answers from the user's data.
    tid(page, "nav-assistant").click()
    page.wait_for_selector("body[data-ready='1']")
    tid(page, "chat-input").fill("what is my portfolio status")
    tid(page, "chat-send").click()
    answer = tid(page, "chat-msg-assistant").last
    answer.wait_for()
    assert re.search(r"bot|capital|profit|portfolio", answer.inner_text(), re.I)
    tid(page, "daily-report").wait_for()
    # An action needs confirmation: nothing changes until the Confirm button is pressed.
    replies = tid(page, "chat-msg-assistant").count()
    tid(page, "chat-input").fill("resume Alpha Trader")
    tid(page, "chat-send").click()
    expect(tid(page, "chat-msg-assistant")).to_have_count(replies + 1)
    expect(tid(page, "chat-confirm")).to_have_count(1)
    assert api(portal_server, token, "GET", "bots").json()["bots"][0]["status"] == "paused"
    tid(page, "chat-confirm").click()
    expect(tid(page, "chat-msg-assistant")).to_have_count(replies + 2)
    expect(tid(page, "chat-action")).to_contain_text("Confirmed")
    assert api(portal_server, token, "GET", "bots").json()["bots"][0]["status"] == "active"
    shot(page, screenshot_dir / "07-assistant.png")

    # Wallet: paper balances, a transfer above the balance is refused next to the form, a valid one is recorded.
    tid(page, "nav-wallet").click()
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "balance-box").filter(has_text="Luno")).to_contain_text("ZAR")
    expect(tid(page, "wallet-total")).to_have_text(re.compile(r"^R\u00a0\d"))
    tid(page, "transfer-from").select_option("luno")
    tid(page, "transfer-to").select_option("valr")
    tid(page, "transfer-currency").fill("ZAR")
    tid(page, "transfer-amount").fill("999999999")
    tid(page, "transfer-submit").click()
    expect(tid(page, "transfer-error")).not_to_be_empty()
    tid(page, "transfer-amount").fill("250")
    tid(page, "transfer-submit").click()
    expect(tid(page, "transfer-ok")).to_contain_text("Transfer recorded")
    expect(tid(page, "transfer-row")).to_have_count(1)
    expect(tid(page, "transfer-row")).to_contain_text("R\u00a0250.00")
    shot(page, screenshot_dir / "08-wallet.png")
    tid(page, "nav-settings").click()
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "mode-testing")).to_be_checked()
    tid(page, "apikey-name").fill("Reporting script")
    tid(page, "apikey-create").click()
    expect(tid(page, "apikey-raw")).to_have_text(re.compile(r"^amk_"))
    tid(page, "apikey-row").first.wait_for()
    expect(tid(page, "apikey-scopes").first).to_have_text("read")  # read-only unless asked
    tid(page, "apikey-name").fill("Trading script")
    tid(page, "apikey-trade").check()
    tid(page, "apikey-create").click()
    expect(tid(page, "apikey-row")).to_have_count(2)
    keys = api(portal_server, token, "GET", "auth/api-keys").json()["api_keys"]
    assert sorted(tuple(k["scopes"]) for k in keys) == [("read",), ("read", "trade")]
    # Exchange keys: a missing secret is refused next to its field; saved keys are shown masked, never the secret.
    tid(page, "exkey-provider").select_option("binance")
    tid(page, "exkey-label").fill("Main")
    tid(page, "exkey-key").fill("binance-key-abcd1234")
    tid(page, "exkey-save").click()
    expect(tid(page, "exkey-form").locator('[data-error-for="api_secret"]')).not_to_be_empty()
    tid(page, "exkey-secret").fill("very-secret-value-42")
    tid(page, "exkey-save").click()
    expect(tid(page, "exkey-row")).to_have_count(1)
    expect(tid(page, "exkey-row")).to_contain_text("1234")
    assert "very-secret-value-42" not in page.content() and "binance-key-abcd1234" not in page.content()
    shot(page, screenshot_dir / "09-settings.png")
    assert not page.errors, page.errors


def test_second_user_sees_nothing_of_the_first(new_page, portal_server, screenshot_dir):
    alice = register_via_api(portal_server, "alice")
    token_a = alice["token"]
    resp = api(
        portal_server,
        token_a,
        "POST",
        "bots",
        {
            "name": "Alice Secret Bot",
            "exchange": "luno",
            "trading_mode": "paper",
            "risk_mode": "safe",
            "initial_capital": 5000,
            "strategy": "momentum",
        },
    )
    assert resp.status_code == 201, resp.text
    alice_bot = resp.json()["bot"]["id"]
    # Paused, so the only trades are the ones this test places (an active bot may trade on its own).
    assert api(portal_server, token_a, "POST", f"bots/{alice_bot}/pause").status_code == 200
    place_trade(portal_server, token_a)
    trades_a = api(portal_server, token_a, "GET", "trades").json()["total"]  # 1, unless a tick beat the pause

    page_a = new_page()
    open_signed_in(page_a, alice)
    expect(tid(page_a, "trade-row")).to_have_count(trades_a)

    # Bob signs up in another browser context.
    page_b = new_page()
    signup(page_b, "Bob", unique_email("bob"))
    tid(page_b, "2fa-skip").click()
    page_b.wait_for_url(re.compile(r"/dashboard"))
    page_b.wait_for_selector("body[data-ready='1']")
    wait_live(page_b)
    wait_live(page_a)
    assert tid(page_b, "trade-row").count() == 0
    expect(tid(page_b, "recent-trades-empty")).to_be_visible()
    assert tid(page_b, "dash-bot").count() == 0

    # Alice trades again: her open page shows it live, Bob's does not.
    place_trade(portal_server, token_a, side="sell")
    page_a.wait_for_function(f"document.querySelectorAll('[data-testid=trade-row]').length === {trades_a + 1}")
    page_b.wait_for_timeout(1500)
    assert tid(page_b, "trade-row").count() == 0
    assert "Alice" not in page_b.content()

    for path in ("/bots", "/trades", "/wallet"):
        page_b.goto(path)
        page_b.wait_for_selector("body[data-ready='1']")
        assert "Alice Secret Bot" not in page_b.content()
        assert tid(page_b, "bot-row").count() == 0 and tid(page_b, "trade-row").count() == 0
    # Bob's own token cannot reach Alice's bot.
    resp = api(portal_server, token_of(page_b), "POST", f"bots/{alice_bot}/pause")
    assert resp.status_code == 404 and resp.json()["error_code"] == "NOT_FOUND"
    shot(page_b, screenshot_dir / "10-second-user-bots.png")
    assert not page_a.errors and not page_b.errors


def test_live_feed_reconnects_after_server_restart(new_page, portal_server):
    carol = register_via_api(portal_server, "carol")
    page = new_page()
    open_signed_in(page, carol)
    wait_live(page)
    portal_server.stop()
    page.wait_for_selector('[data-testid="live-status"]:not([data-state="live"])')
    portal_server.start()
    wait_live(page, timeout=40000)
    place_trade(portal_server, carol["token"])
    page.wait_for_function("document.querySelectorAll('[data-testid=trade-row]').length === 1")


def test_a_form_sent_before_the_scripts_ran_never_puts_its_fields_in_the_address(new_page, portal_server):
    """A click on "Create account" while app.js is still loading (held back here) must not make the browser submit the
    form itself: that would send the password in the URL, into the server's logs. Nor is the click lost: once the page
    script is there, it sends the form through its own handler."""
    page = new_page()
    held, released = [], []

    def hold(route):
        if released:
            route.continue_()  # the next page's app.js loads as usual
        else:
            held.append(route)

    page.route("**/static/portal/app.js*", hold)
    page.goto("/signup", wait_until="commit")  # a deferred script holds DOMContentLoaded back
    tid(page, "signup-submit").wait_for()
    tid(page, "signup-email").fill(unique_email("early"))
    tid(page, "signup-password").fill("early-secret-password")
    tid(page, "signup-submit").click()
    page.wait_for_timeout(500)
    assert "early-secret-password" not in page.url and "?" not in page.url, page.url
    released.append(True)
    for route in held:
        route.continue_()
    page.wait_for_url(re.compile(r"/security/two-factor"))  # the early click signed up, through the page script
    assert "early-secret-password" not in page.url


def test_errors_are_shown_next_to_the_field(new_page, portal_server, screenshot_dir):
    page = new_page()
    page.goto("/signup")
    page.wait_for_selector("body[data-ready='1']")  # the form is the page script's
    tid(page, "signup-email").fill(unique_email("dave"))
    tid(page, "signup-password").fill("short")
    tid(page, "signup-submit").click()
    expect(tid(page, "signup-form").locator('[data-error-for="password"]')).not_to_be_empty()
    expect(tid(page, "signup-password")).to_have_class(re.compile("invalid"))
    page.screenshot(path=screenshot_dir / "00-signup-error.png")
    # Signed-out visitors are sent to the login page.
    page.goto("/bots")
    page.wait_for_url(re.compile(r"/login\?next=%2Fbots"))


def test_mobile_dashboard(new_page, portal_server, screenshot_dir):
    erin = register_via_api(portal_server, "erin")
    place_trade(portal_server, erin["token"])
    page = new_page(viewport={"width": 390, "height": 844})
    open_signed_in(page, erin)
    expect(tid(page, "trade-row")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, screenshot_dir / "11-dashboard-mobile.png")


def test_admin_console(new_page, portal_server, screenshot_dir):
    import subprocess
    import sys

    from tests.servers import ROOT

    owner = register_via_api(portal_server, "frank")
    resp = api(
        portal_server,
        owner["token"],
        "POST",
        "bots",
        {
            "name": "Frank Bot",
            "exchange": "valr",
            "trading_mode": "paper",
            "risk_mode": "aggressive",
            "initial_capital": 2500,
            "strategy": "breakout",
        },
    )
    assert resp.status_code == 201, resp.text
    bot_id = resp.json()["bot"]["id"]
    admin = register_via_api(portal_server, "grace")
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            f"from accounts.models import User; User.objects.filter(email={admin['email']!r}).update(is_admin=True)",
        ],
        cwd=ROOT,
        env=portal_server.env,
        check=True,
        capture_output=True,
    )
    admin["user"]["is_admin"] = True

    # A normal user has no admin link, and the console refuses them.
    page = new_page()
    open_signed_in(page, owner, "/console")
    expect(tid(page, "nav-admin")).to_be_hidden()
    expect(tid(page, "page-error")).to_be_visible()
    expect(tid(page, "admin-bot-row")).to_have_count(0)

    page = new_page()
    open_signed_in(page, admin, "/console")
    expect(tid(page, "nav-admin")).to_be_visible()
    expect(tid(page, "admin-user-row").filter(has_text=owner["email"])).to_have_count(1)
    row = page.locator(f'[data-testid="admin-bot-row"][data-id="{bot_id}"]')
    expect(row).to_contain_text("Frank Bot")
    # Another bot's news (here a new bot: the console reloads its lists) leaves this row's button in place, so a click
    # racing the update is never lost (the list holds every bot of the platform, and they tick all the time).
    row.locator('[data-testid="admin-bot-pause"]').evaluate("(el) => { el.dataset.seen = 'yes'; }")
    other = api(
        portal_server,
        owner["token"],
        "POST",
        "bots",
        {
            "name": "Frank Two",
            "exchange": "valr",
            "trading_mode": "paper",
            "initial_capital": 500,
            "strategy": "breakout",
        },
    )
    assert other.status_code == 201, other.text
    expect(page.locator(f'[data-testid="admin-bot-row"][data-id="{other.json()["bot"]["id"]}"]')).to_have_count(1)
    expect(row.locator('[data-testid="admin-bot-pause"][data-seen="yes"]')).to_have_count(1)
    row.locator('[data-testid="admin-bot-pause"]').click()
    tid(page, "admin-pause-dialog-input").fill("Checking unusual volume")
    tid(page, "admin-pause-dialog-confirm").click()
    expect(row.locator('[data-testid="admin-bot-status"]')).to_have_text("paused")
    expect(row.locator('[data-testid="admin-bot-unlock"]')).to_be_visible()
    bots = api(portal_server, owner["token"], "GET", "bots").json()["bots"]
    assert {b["name"]: b["status"] for b in bots}["Frank Bot"] == "paused"
    shot(page, screenshot_dir / "12-admin-console.png")
    assert not page.errors, page.errors
