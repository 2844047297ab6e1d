"""The portal's layout in headless Chromium, on a phone (390 px), a narrow window (536 px), a tablet (820 px) and a
desktop (1360 px), for every page of amarktai.portal.PAGES (pages added later are covered without touching this file),
filled with a realistic account: bots with long names, big numbers, trades, positions, transfers, keys and a chat.

- Nothing sticks out of the viewport and nothing scrolls sideways (the document, or any scrolling box in it).
- Toasts never cover a button: they take their own room in the sticky header, what was on screen moves down.
- On a phone the navigation is a Menu button (labelled, aria-expanded, keyboard, Escape) that reaches every page.
- The bots page shows the list before the long create form on a phone; the form is reset after a create.
- The real-time indicator says "Connected" (not "Live", which reads like live trading next to the PAPER badge).
- /favicon.ico is an icon.
"""

import json
import re
import subprocess
import sys

import pytest

from amarktai.portal import DETAIL_PAGES, PAGES
from tests.browser import demo_data
from tests.servers import ROOT

EVERY_PAGE = PAGES + [entry[:4] for entry in DETAIL_PAGES]  # (page, url, title, public)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect, PlaywrightTimeout = playwright.expect, playwright.TimeoutError

SIZES = {"phone": (390, 844), "small": (536, 900), "tablet": (820, 1180), "desktop": (1360, 900)}
BUTTONS = 'button, .btn, [role="button"], input[type="submit"], input[type="button"]'


def tid(page, testid):
    return page.locator(f'[data-testid="{testid}"]')


@pytest.fixture(scope="module")
def trader(portal_server):
    """A signed-up admin (so the admin console has content) with a full portfolio."""
    client = demo_data.register(portal_server.base, "Thandiwe-Nomvula")
    # Promoted before its first API call (the server keeps a signed-in user for a moment).
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from accounts.models import User; "
            f"User.objects.filter(email={client.account['user']['email']!r}).update(is_admin=True)",
        ],
        cwd=ROOT,
        env=portal_server.env,
        check=True,
        capture_output=True,
    )
    client.account["user"]["is_admin"] = True
    seeded = demo_data.seed_portfolio(client)
    return client, seeded


def sign_in(page, client):
    """The session goes into the tab's sessionStorage before the first page's scripts run, once (as a sign-in would,
    without loading the login page first)."""
    account = json.dumps([client.account["token"], client.account["refresh"], client.account["user"]])
    page.add_init_script(
        "(() => { if (!location.protocol.startsWith('http') || sessionStorage.getItem('amk.test-signed-in')) return;"
        f" const [t, r, u] = {account}; sessionStorage.setItem('amk.token', t);"
        " sessionStorage.setItem('amk.refresh', r); sessionStorage.setItem('amk.user', JSON.stringify(u));"
        " sessionStorage.setItem('amk.test-signed-in', '1'); })();"
    )


def open_page(new_page, size, path, client=None):
    width, height = SIZES[size]
    page = new_page(viewport={"width": width, "height": height})
    if client is not None:
        sign_in(page, client)
    page.goto(path)
    page.wait_for_selector("body[data-ready='1']")
    if client is not None:
        page.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=20000)
    try:
        page.wait_for_load_state("networkidle", timeout=5000)
    except PlaywrightTimeout:
        pass  # a page that polls all the time: its first answers are in by now
    return page


def concrete_path(url, seeded):
    """A PAGES url with its path parameters filled in from the seeded data (e.g. bots/<uuid:bot_id>)."""

    def fill(match):
        name = match.group(1)
        if "bot" in name:
            return seeded["bots"][1]  # the one with the long name
        pytest.fail(f"test_layout.py does not know what to put in <{name}> of {url}: add it to concrete_path")

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", fill, url)


# What sticks out: elements (or the unclipped part of them) beyond the viewport's edges, and boxes that scroll sideways.
OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const found = [];
  const name = (el) => el.tagName.toLowerCase() + (el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : '')
    + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
    + ` "${(el.textContent || '').trim().slice(0, 40)}"`;
  const sw = document.documentElement.scrollWidth;
  if (sw > vw) found.push(`the page is ${sw}px wide`);
  for (const el of document.querySelectorAll('body *')) {
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden' || el.closest('[hidden]')) continue;
    if ((cs.overflowX === 'auto' || cs.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
      found.push(`scrolls sideways (${el.scrollWidth} > ${el.clientWidth}): ${name(el)}`);
    }
    let r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    let left = r.left, right = r.right;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const acs = getComputedStyle(a);
      if (acs.overflowX !== 'visible' || acs.clipPath !== 'none') {
        const ar = a.getBoundingClientRect();
        left = Math.max(left, ar.left); right = Math.min(right, ar.right);
      }
    }
    if (right <= left) continue;  // clipped away entirely (a visually hidden table head)
    if (right > vw + 1 || left < -1) {
      found.push(`sticks out (${Math.round(left)}..${Math.round(right)} of ${vw}): ${name(el)}`);
    }
  }
  return found;
}"""

# The buttons a person can see and press: the centre is on screen and the button is what is there.
MARK_VISIBLE_BUTTONS_JS = """(sel) => {
  let n = 0;
  for (const b of document.querySelectorAll(sel)) {
    delete b.dataset.layoutSeen;
    const r = b.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) continue;
    const hit = document.elementFromPoint(x, y);
    if (hit && (hit === b || b.contains(hit))) { b.dataset.layoutSeen = '1'; n += 1; }
  }
  return n;
}"""

# After toasts appeared: every button seen before is still unobstructed (or was moved down below the screen), and no
# toast's box meets a visible button's box. The toasts themselves are on screen.
COVERED_BUTTONS_JS = """() => {
  const toasts = Array.from(document.querySelectorAll('[data-testid="toast"]')).map((t) => t.getBoundingClientRect());
  const problems = [];
  if (!toasts.length) problems.push('no toast is shown');
  for (const t of toasts) {
    if (t.top < 0 || t.bottom > innerHeight) problems.push(`a toast is off screen (${t.top}..${t.bottom})`);
  }
  const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  for (const b of document.querySelectorAll('[data-layout-seen]')) {
    if (!b.isConnected) continue;
    const r = b.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (y > innerHeight) continue;  // moved down, below the screen: scrolled, not covered
    const hit = document.elementFromPoint(x, y);
    const label = `"${(b.textContent || b.value || '').trim().slice(0, 30)}" at ${Math.round(x)},${Math.round(y)}`;
    if (!(hit && (hit === b || b.contains(hit)))) problems.push(`button ${label} is under ${hit && hit.className}`);
    if (toasts.some((t) => meets(t, r))) problems.push(`a toast meets button ${label}`);
  }
  return problems;
}"""


def assert_nothing_sticks_out(page, what):
    found = page.evaluate(OVERFLOW_JS)
    assert not found, f"{what}:\n" + "\n".join(found[:20])


def assert_toasts_cover_no_button(page, trigger, what):
    seen = page.evaluate(MARK_VISIBLE_BUTTONS_JS, BUTTONS)
    trigger()
    expect(page.locator('[data-testid="toast"]').first).to_be_visible()
    problems = page.evaluate(COVERED_BUTTONS_JS)
    assert not problems, f"{what} ({seen} buttons on screen before):\n" + "\n".join(problems)


def show_toasts(page):
    page.evaluate(
        "() => { window.amarktai.toast('Bot “Long-term accumulation strategy for the South African rand market "
        "(weekends included)” created.', 'success'); window.amarktai.toast('Luno is not answering; retrying.', "
        "'warning'); }"
    )


def clear_toasts(page):
    page.evaluate("() => document.querySelectorAll('[data-testid=toast]').forEach((t) => t.remove())")


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("entry", EVERY_PAGE, ids=[p[0] for p in EVERY_PAGE])
def test_page_fits_and_toasts_cover_nothing(new_page, trader, screenshot_dir, entry, size):
    name, url, public = entry[0], entry[1], entry[3]
    client, seeded = trader
    page = open_page(new_page, size, concrete_path(url, seeded), None if public else client)
    assert page.evaluate("document.body.dataset.page") == name
    assert_nothing_sticks_out(page, f"{name} at {size}")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=screenshot_dir / f"layout-{name}-{size}.png", full_page=True)
    if not public:
        for where, fraction in (("top", 0), ("middle", 0.5), ("bottom", 1)):
            page.evaluate("(f) => scrollTo(0, (document.documentElement.scrollHeight - innerHeight) * f)", fraction)
            assert_toasts_cover_no_button(page, lambda: show_toasts(page), f"{name} at {size}, scrolled to the {where}")
            assert_nothing_sticks_out(page, f"{name} at {size} with toasts")
            clear_toasts(page)
    assert not page.errors, page.errors


def test_phone_menu(new_page, trader):
    client, _ = trader
    page = open_page(new_page, "phone", "/dashboard", client)
    toggle = tid(page, "menu-toggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_accessible_name("Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_attribute("aria-controls", "main-menu")
    expect(tid(page, "nav-assistant")).to_be_hidden()
    expect(tid(page, "nav-settings")).to_be_hidden()
    expect(tid(page, "live-status")).to_be_visible()  # the feed and the mode stay in the bar
    expect(tid(page, "mode-pill")).to_be_visible()

    # Open by touch: every page is in the panel, inside the screen, one under the other (no sideways scroll).
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    links = [tid(page, f"nav-{n}") for n in ("dashboard", "bots", "trades", "wallet", "assistant", "settings", "admin")]
    for link in links:
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    tops = [link.bounding_box()["y"] for link in links]
    assert tops == sorted(tops) and len(set(tops)) == len(tops), tops
    expect(tid(page, "logout")).to_be_visible()
    assert_nothing_sticks_out(page, "the open menu")
    # Escape closes it and gives the focus back to the button.
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(tid(page, "nav-assistant")).to_be_hidden()
    expect(toggle).to_be_focused()
    # A tap outside closes it too.
    toggle.click()
    expect(tid(page, "nav-settings")).to_be_visible()
    page.mouse.click(200, 700)
    expect(tid(page, "nav-settings")).to_be_hidden()

    # By keyboard: Enter opens it and focuses the first entry; Tab walks down to Assistant; Enter goes there.
    toggle.focus()
    page.keyboard.press("Enter")
    expect(tid(page, "nav-dashboard")).to_be_focused()
    for _ in range(10):
        if page.evaluate("document.activeElement.dataset.testid") == "nav-assistant":
            break
        page.keyboard.press("Tab")
    expect(tid(page, "nav-assistant")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/assistant$"))
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "menu-toggle")).to_have_attribute("aria-expanded", "false")
    expect(tid(page, "chat-form")).to_be_visible()

    # By touch to Settings; the menu is closed on the new page and the page is marked current in it.
    tid(page, "menu-toggle").click()
    tid(page, "nav-settings").click()
    page.wait_for_url(re.compile(r"/settings$"))
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "nav-settings")).to_be_hidden()
    tid(page, "menu-toggle").click()
    expect(tid(page, "nav-settings")).to_have_attribute("aria-current", "page")
    assert not page.errors, page.errors


def test_desktop_has_no_menu_button(new_page, trader):
    client, _ = trader
    page = open_page(new_page, "desktop", "/dashboard", client)
    expect(tid(page, "menu-toggle")).to_be_hidden()
    for name in ("dashboard", "bots", "trades", "wallet", "assistant", "settings", "admin", "logout"):
        expect(tid(page, f"nav-{name}" if name != "logout" else name)).to_be_visible()
    # Everything of the bar on one line.
    bar = page.locator(".topbar").bounding_box()
    assert bar["height"] < 70, bar


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_live_indicator_says_connected(new_page, trader, size):
    client, _ = trader
    page = open_page(new_page, size, "/dashboard", client)
    live = tid(page, "live-status")
    expect(live).to_have_text("Connected")
    expect(live).to_be_visible()
    expect(tid(page, "mode-pill")).to_have_text("Paper")


def test_phone_bots_list_before_form_and_form_reset_after_create(new_page, trader, screenshot_dir):
    client, _ = trader
    page = open_page(new_page, "phone", "/bots", client)
    expect(tid(page, "bot-row")).to_have_count(4)
    list_top = tid(page, "bots-list").bounding_box()["y"]
    form_top = tid(page, "bot-form").bounding_box()["y"]
    assert list_top < form_top, (list_top, form_top)
    # The New bot button takes a phone user down to the form.
    tid(page, "bots-new").click()
    expect(tid(page, "bot-name")).to_be_in_viewport()

    # Create a bot with every field changed from its default.
    tid(page, "bot-name").fill("Phone bot")
    tid(page, "bot-exchange").select_option("kucoin")  # its USDT is not allocated to any bot yet
    tid(page, "bot-symbol").select_option(index=1)
    tid(page, "bot-strategy").select_option("breakout")
    tid(page, "bot-risk").select_option("aggressive")
    tid(page, "bot-capital").fill("1234")
    tid(page, "bot-create").scroll_into_view_if_needed()
    assert_toasts_cover_no_button(page, lambda: tid(page, "bot-create").click(), "creating a bot on a phone")
    expect(tid(page, "toast")).to_contain_text("Phone bot")
    expect(tid(page, "bot-row")).to_have_count(5)
    page.screenshot(path=screenshot_dir / "layout-bots-created-phone.png")
    # The form is back to its defaults, ready for the next bot.
    expect(tid(page, "bot-name")).to_have_value("")
    expect(tid(page, "bot-capital")).to_have_value("")
    default_exchange = page.evaluate("document.querySelector('[data-testid=bot-exchange] option').value")
    expect(tid(page, "bot-exchange")).to_have_value(default_exchange)
    first_exchange = tid(page, "bot-exchange").input_value()
    expect(tid(page, "bot-strategy")).to_have_value("momentum")
    expect(tid(page, "bot-risk")).to_have_value("balanced")
    expect(tid(page, "bot-mode")).to_have_value("paper")
    # The pairs are the default exchange's again (not the ones of the exchange chosen before).
    symbols = tid(page, "bot-symbol").locator("option").evaluate_all("(options) => options.map((o) => o.value)")
    platforms = page.request.get("/api/system/platforms").json()["platforms"]
    assert symbols == next(p["symbols"] for p in platforms if p["id"] == first_exchange)
    expect(tid(page, "bot-form-error")).to_be_empty()
    assert not page.errors, page.errors


def test_desktop_bots_form_first(new_page, trader):
    client, _ = trader
    page = open_page(new_page, "desktop", "/bots", client)
    expect(tid(page, "bots-new")).to_be_hidden()  # the form is right there
    assert tid(page, "bot-form").bounding_box()["y"] < tid(page, "bots-list").bounding_box()["y"]


def test_tables_become_labelled_cards_on_a_phone(new_page, trader):
    client, _ = trader
    page = open_page(new_page, "phone", "/trades", client)
    row = tid(page, "trade-row").first
    cells = row.locator("td")
    labels, heads = labels_and_heads(row)
    assert labels == heads, (labels, heads)
    # One card per row, as wide as the list, each line "LABEL value".
    box = row.bounding_box()
    assert box["width"] > 300 and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    pair = cells.nth(heads.index("Pair"))
    assert page.evaluate("(el) => getComputedStyle(el, '::before').content", pair.element_handle()) == '"Pair"'
    # The page's second table, the round trips, is labelled by its own head, every row of it.
    tid(page, "view-round-trips").click()
    trips = tid(page, "round-trip-row")
    expect(trips.first).to_be_visible()
    for i in range(trips.count()):
        labels, heads = labels_and_heads(trips.nth(i))
        assert labels == heads and "Entry price" in heads, (labels, heads)
    box = trips.first.bounding_box()
    assert box["width"] > 300 and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    # On a desktop the same table is a table.
    desk = open_page(new_page, "desktop", "/trades", client)
    assert desk.evaluate("getComputedStyle(document.querySelector('[data-testid=trade-row]')).display") == "table-row"


def labels_and_heads(row):
    """A row's cell labels (data-label) and the column heads of the row's own table (a page may hold several)."""
    return row.evaluate(
        "(tr) => [Array.from(tr.cells).map((td) => td.dataset.label),"
        " Array.from(tr.closest('table').querySelectorAll(':scope > thead th')).map((th) => th.textContent.trim())]"
    )


def test_favicon_ico(new_page, portal_server):
    page = new_page()
    resp = page.request.get("/favicon.ico")
    assert resp.status == 200
    assert resp.headers["content-type"] == "image/x-icon"
    assert resp.body()[:4] == b"\x00\x00\x01\x00"


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_new_user_walks_in(new_page, portal_server, screenshot_dir, size):
    """As a new trader would: sign up, meet the two-factor page, an empty dashboard, create a first bot, browse every
    page of the menu; nothing sticks out at any step, empty states included."""
    width, height = SIZES[size]
    page = new_page(viewport={"width": width, "height": height})
    page.goto("/signup")
    assert_nothing_sticks_out(page, f"signup at {size}")
    tid(page, "signup-first-name").fill("Lindiwe")
    tid(page, "signup-email").fill(demo_data.unique_email("lindiwe"))
    tid(page, "signup-password").fill(demo_data.PASSWORD)
    tid(page, "signup-submit").click()
    page.wait_for_url(re.compile(r"/security/two-factor"))
    page.wait_for_selector("body[data-ready='1']")
    tid(page, "2fa-enroll").click()
    expect(tid(page, "2fa-qr")).to_be_visible()
    assert_nothing_sticks_out(page, f"two-factor set-up at {size}")
    page.goto("/dashboard")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "dash-bots-empty")).to_be_visible()
    assert_nothing_sticks_out(page, f"empty dashboard at {size}")
    tid(page, "dash-new-bot").click()
    page.wait_for_url(re.compile(r"/bots#new"))
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "bots-empty")).to_be_visible()
    expect(tid(page, "bot-name")).to_be_focused()
    expect(tid(page, "bot-name")).to_be_in_viewport()
    assert_nothing_sticks_out(page, f"empty bots page at {size}")
    tid(page, "bot-name").fill("My first bot")
    tid(page, "bot-capital").fill("1000")
    tid(page, "bot-create").click()
    expect(tid(page, "bot-row")).to_have_count(1)
    expect(tid(page, "bot-name")).to_have_value("")
    assert_nothing_sticks_out(page, f"first bot at {size}")
    page.screenshot(path=screenshot_dir / f"layout-new-user-bots-{size}.png", full_page=True)
    for name in ("trades", "wallet", "assistant", "settings"):
        if size == "phone":
            tid(page, "menu-toggle").click()
        tid(page, f"nav-{name}").click()
        page.wait_for_url(re.compile(f"/{name}$"))
        page.wait_for_selector("body[data-ready='1']")
        assert_nothing_sticks_out(page, f"{name} of a new user at {size}")
    assert not page.errors, page.errors
