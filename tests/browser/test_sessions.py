"""Sessions across tabs, in headless Chromium against the real server: the refresh token is an HttpOnly cookie and the
access token lives in each page's memory, so a second tab (a new page in the same browser context) is signed in without
the password or the 2FA code; a reload keeps the session; logging out in one tab ends the others. Two-factor backup
codes: shown once after enrolment, copy/download, signing in with one, how many are left, new ones; a reused TOTP code
gets its own message."""

import re
import time

import httpx
import pytest

from tests.browser.test_portal import PASSWORD, register_via_api, shot, tid, unique_email
from tests.helpers import start_of_fresh_totp_step

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "mobile": {"width": 390, "height": 844}}


def with_2fa(server, name):
    """An account with 2FA on, made through the API: (account, pyotp.TOTP)."""
    import pyotp

    account = register_via_api(server, name)
    headers = {"Authorization": f"Bearer {account['token']}"}
    secret = httpx.post(f"{server.base}/api/auth/2fa/enroll", headers=headers, timeout=15).json()["secret"]
    totp = pyotp.TOTP(secret)
    start_of_fresh_totp_step()
    r = httpx.post(f"{server.base}/api/auth/2fa/verify", json={"totp_code": totp.now()}, headers=headers, timeout=15)
    assert r.status_code == 200, r.text
    return account, totp


def ui_login(page, email, code=None):
    page.goto("/login")
    page.wait_for_selector("body[data-ready='1']")
    tid(page, "login-email").fill(email)
    tid(page, "login-password").fill(PASSWORD)
    tid(page, "login-submit").click()
    if code is not None:
        tid(page, "totp-step").wait_for()
        tid(page, "login-totp").fill(code)
        tid(page, "login-submit").click()


def another_tab(page, path="/dashboard"):
    """A new page in the same browser context (what a second tab is), opened at ``path``."""
    tab = page.context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.goto(path)
    return tab


def stored_tokens(page):
    """Everything the page keeps in Web Storage (no token may be there)."""
    return page.evaluate("JSON.stringify({...sessionStorage}) + JSON.stringify({...localStorage})")


def signed_in(page):
    page.wait_for_url(re.compile(r"/dashboard"))
    page.wait_for_selector("body[data-ready='1']")
    assert page.evaluate("typeof window.amarktai.session.token === 'string'")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_second_tab_needs_no_password_and_no_code(new_page, portal_server, screenshot_dir, viewport):
    account, totp = with_2fa(portal_server, f"tabs{viewport}")
    page = new_page(viewport=VIEWPORTS[viewport])
    ui_login(page, account["email"], totp.at(time.time() + 30))
    signed_in(page)

    # The refresh token is an HttpOnly, SameSite=Strict cookie scoped to the auth endpoints; no token is in storage.
    cookie = next(c for c in page.context.cookies() if c["name"] == "amk_refresh")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/api/auth/"
    assert "eyJ" not in stored_tokens(page)
    assert page.evaluate("document.cookie").find("amk_refresh") == -1  # script cannot read it

    # A second tab: straight to the dashboard, no login page, no password, no code.
    tab = another_tab(page)
    signed_in(tab)
    expect(tid(tab, "user-name")).to_have_text(account["user"]["first_name"])
    expect(tid(tab, "greeting")).to_contain_text(account["user"]["first_name"])
    tab.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=20000)
    shot(tab, screenshot_dir / f"sessions-second-tab-{viewport}.png")

    # A reload keeps the session (in both tabs), and the first tab's API calls still work.
    tab.reload()
    signed_in(tab)
    page.reload()
    signed_in(page)
    tid(page, "nav-bots").click() if viewport == "desktop" else page.goto("/bots")
    page.wait_for_url(re.compile(r"/bots"))
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "page-error")).to_be_empty()
    assert page.errors == [] and tab.errors == []


def test_tabs_opened_at_the_same_moment_all_stay_signed_in(new_page, portal_server):
    """Several tabs loading together all refresh with the same cookie: none is refused as a replay."""
    account = register_via_api(portal_server, "burst")
    page = new_page(viewport=VIEWPORTS["desktop"])
    ui_login(page, account["email"])
    signed_in(page)
    tabs = [page.context.new_page() for _ in range(3)]
    for tab in tabs:  # start every load before waiting for any
        tab.evaluate("url => { location.href = url; }", f"{portal_server.base}/trades")
    for tab in [*tabs, page]:
        if tab is page:
            page.reload()
        tab.wait_for_url(re.compile(r"/trades|/dashboard"))
        tab.wait_for_selector("body[data-ready='1']")
        assert tab.evaluate("typeof window.amarktai.session.token === 'string'"), tab.url
    # And without the portal's cross-tab lock: raw refreshes sent at once with the same cookie all succeed (the
    # server's grace gives them the same successor).
    statuses = page.evaluate(
        """async () => {
            const csrf = decodeURIComponent(document.cookie.match(/csrftoken=([^;]+)/)[1]);
            const headers = {'Content-Type': 'application/json', 'X-CSRFToken': csrf};
            const calls = [0, 1, 2].map(() => fetch('/api/auth/refresh', {method: 'POST', headers, body: '{}'}));
            return (await Promise.all(calls)).map((r) => r.status);
        }"""
    )
    assert statuses == [200, 200, 200]
    another = another_tab(page)
    signed_in(another)


def test_logout_in_one_tab_ends_the_others(new_page, portal_server):
    account = register_via_api(portal_server, "leaver")
    page = new_page(viewport=VIEWPORTS["desktop"])
    ui_login(page, account["email"])
    signed_in(page)
    tab = another_tab(page)
    signed_in(tab)
    first_token = page.evaluate("window.amarktai.session.token")

    tid(tab, "logout").click()
    tab.wait_for_url(re.compile(r"/login"))
    # The other tab is told at once and shows the login page with a reason.
    page.wait_for_url(re.compile(r"/login"))
    expect(tid(page, "login-error")).to_contain_text("logged out in another tab")
    # Its access token is refused by the server, and there is no cookie left for its next refresh.
    r = httpx.get(f"{portal_server.base}/api/auth/me", headers={"Authorization": f"Bearer {first_token}"}, timeout=15)
    assert r.status_code == 401
    assert not [c for c in page.context.cookies() if c["name"] == "amk_refresh"]
    status = page.evaluate(
        """async () => {
            const m = document.cookie.match(/csrftoken=([^;]+)/);
            const headers = {'Content-Type': 'application/json', 'X-CSRFToken': m ? decodeURIComponent(m[1]) : ''};
            return (await fetch('/api/auth/refresh', {method: 'POST', headers, body: '{}'})).status;
        }"""
    )
    assert status in (400, 401)
    # A new tab goes to the login page.
    third = another_tab(page, "/bots")
    third.wait_for_url(re.compile(r"/login\?next=%2Fbots"))


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_backup_codes_and_a_reused_code(new_page, portal_server, screenshot_dir, viewport):
    import pyotp

    page = new_page(viewport=VIEWPORTS[viewport])
    email = unique_email(f"backup{viewport}")
    page.goto("/signup")
    tid(page, "signup-first-name").fill("Bea")
    tid(page, "signup-email").fill(email)
    tid(page, "signup-password").fill(PASSWORD)
    tid(page, "signup-submit").click()
    page.wait_for_url(re.compile(r"/security/two-factor"))
    page.wait_for_selector("body[data-ready='1']")
    tid(page, "2fa-enroll").click()
    tid(page, "2fa-secret").wait_for()
    totp = pyotp.TOTP(tid(page, "2fa-secret").inner_text().strip())
    start_of_fresh_totp_step()
    tid(page, "2fa-code").fill(totp.now())
    tid(page, "2fa-verify").click()

    # The codes, shown this once, with copy and download; the count of what is left.
    tid(page, "2fa-backup-new").wait_for()
    codes = [c.strip() for c in tid(page, "2fa-backup-code").all_inner_texts()]
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    expect(tid(page, "2fa-backup-remaining")).to_have_text(re.compile(r"10 of 10 backup codes left"))
    with page.expect_download() as download:
        tid(page, "2fa-backup-download").click()
    text = open(download.value.path()).read()
    assert all(c in text for c in codes) and email in text
    shot(page, screenshot_dir / f"sessions-backup-codes-{viewport}.png")

    # Reloading the page never shows them again.
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert tid(page, "2fa-backup-new").is_hidden()
    assert not any(c in page.content() for c in codes)

    # Log out; log in with a backup code.
    tid(page, "logout").click() if viewport == "desktop" else page.evaluate(
        "document.querySelector('[data-testid=logout]').click()"
    )
    page.wait_for_url(re.compile(r"/login"))
    ui_login(page, email)
    tid(page, "totp-step").wait_for()
    tid(page, "login-use-backup").click()
    tid(page, "login-totp").fill(codes[0].upper())
    tid(page, "login-submit").click()
    signed_in(page)
    page.goto("/security/two-factor")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "2fa-backup-remaining")).to_have_text(re.compile(r"9 of 10 backup codes left"))
    page.goto("/settings")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "security-2fa-status")).to_contain_text("9 of 10 backup codes left")

    # New codes need the password; the old ones stop working.
    page.goto("/security/two-factor")
    page.wait_for_selector("body[data-ready='1']")
    tid(page, "2fa-backup-password").fill("not-my-Password-1")
    tid(page, "2fa-backup-regenerate").click()
    expect(tid(page, "2fa-backup-form").locator('[data-error-for="password"]')).to_contain_text("incorrect")
    tid(page, "2fa-backup-password").fill(PASSWORD)
    tid(page, "2fa-backup-regenerate").click()
    expect(tid(page, "2fa-backup-remaining")).to_have_text(re.compile(r"10 of 10 backup codes left"))
    fresh = [c.strip() for c in tid(page, "2fa-backup-code").all_inner_texts()]
    assert len(fresh) == 10 and not set(fresh) & set(codes)

    # A TOTP code used once is refused the second time with its own message.
    page.evaluate("document.querySelector('[data-testid=logout]').click()")
    page.wait_for_url(re.compile(r"/login"))
    code = totp.at(time.time() + 30)
    ui_login(page, email, code)
    signed_in(page)
    page.evaluate("document.querySelector('[data-testid=logout]').click()")
    page.wait_for_url(re.compile(r"/login"))
    ui_login(page, email, code)
    expect(tid(page, "login-form").locator('[data-error-for="totp_code"]')).to_have_text(
        "This code was already used; wait for the next one"
    )
    shot(page, screenshot_dir / f"sessions-totp-reused-{viewport}.png")
    # The old backup code no longer works either.
    tid(page, "login-totp").fill(codes[1])
    tid(page, "login-submit").click()
    expect(tid(page, "login-form").locator('[data-error-for="totp_code"]')).to_contain_text("Invalid")
    assert page.errors == []


def test_a_tab_from_an_older_portal_moves_its_tokens_out_of_storage(new_page, portal_server):
    """Tabs opened before this portal kept the JWT pair in sessionStorage (tests' open_signed_in does the same): the
    refresh token is rotated into the cookie and nothing stays in storage. When that refresh token was already spent
    (the same pair handed to a second browser), the tab keeps its access token until it expires, as it used to."""
    from tests.browser.test_portal import open_signed_in, token_of

    account = register_via_api(portal_server, "older")
    first = new_page(viewport=VIEWPORTS["desktop"])
    open_signed_in(first, account, "/bots")
    assert token_of(first) and "eyJ" not in stored_tokens(first)
    assert [c for c in first.context.cookies() if c["name"] == "amk_refresh"]
    first.goto("/trades")
    first.wait_for_selector("body[data-ready='1']")
    assert first.url.endswith("/trades")

    second = new_page(viewport=VIEWPORTS["desktop"])  # another browser: the pair's refresh token is spent by now
    open_signed_in(second, account, "/bots")
    assert second.url.endswith("/bots") and token_of(second) == account["token"]
    second.goto("/trades")
    second.wait_for_selector("body[data-ready='1']")
    assert second.url.endswith("/trades") and token_of(second) == account["token"]
    # Another account's pair handed to the first browser: that tab is that account (not the cookie's).
    other = register_via_api(portal_server, "other")
    open_signed_in(first, other, "/wallet")
    assert first.url.endswith("/wallet") and "eyJ" not in stored_tokens(first)
    expect(tid(first, "user-name")).to_have_text(other["user"]["first_name"])
    # ...and the first account's spent pair again: the tab runs on its access token, as older portals did.
    open_signed_in(first, account, "/trades")
    assert token_of(first) == account["token"]
    expect(tid(first, "user-name")).to_have_text(account["user"]["first_name"])
