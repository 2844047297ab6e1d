"""Take the README's screenshots: `make screenshots` (or `.venv/bin/python docs/screenshots/take.py`).

Starts the portal on a free port with a throwaway database (as the browser tests do: tests/browser/server.py), signs
up a trader whose account is filled through the public API (tests/browser/demo_data.py: bots, trades, positions,
transfers, keys, a chat), and writes one PNG per main page, on a desktop (1280x800) and on a phone (390x844), into this
folder: desktop-<page>.png and phone-<page>.png, plus phone-menu.png (the menu open). The pages are the login page,
every entry of amarktai.portal.NAV (so pages added to the navigation are photographed too), the sub-pages that have
their own section in it (amarktai.portal.NAV_PARENT: the watch list, the models) and the page of one bot
(bot: /bots/<id>). The PNGs are reduced to a
256-colour palette to keep them small. Needs Debian's chromium and playwright (requirements.txt), like the browser
tests.
"""

import argparse
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
CHROMIUM = "/usr/bin/chromium"
SIGN_IN_JS = """([t, r, u]) => { sessionStorage.setItem('amk.token', t); sessionStorage.setItem('amk.refresh', r);
  sessionStorage.setItem('amk.user', JSON.stringify(u)); }"""


def small_png(png_bytes, path):
    from PIL import Image

    image = Image.open(io.BytesIO(png_bytes)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the PNGs (default: docs/screenshots)")
    args = parser.parse_args()

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amarktai.settings")
    django.setup()
    from playwright.sync_api import sync_playwright

    from amarktai.portal import NAV, NAV_PARENT, PAGES
    from tests.browser import demo_data
    from tests.browser.server import PortalServer

    server = PortalServer().start()
    written = []
    try:
        trader = demo_data.register(server.base, "Thandiwe")
        seeded = demo_data.seed_portfolio(trader)
        pages = [("login", "/login", True)] + [(name, url, False) for name, url, _label in NAV]
        # sub-pages under a navigation entry (not the settings and console ones: forms much like their parents')
        pages += [(n, f"/{u}", False) for n, u, _t, _p in PAGES if NAV_PARENT.get(n) in {"signals", "research"}]
        # The bot page (amarktai.portal.DETAIL_PAGES), after the bots list: the demo account's first bot.
        at = [name for name, _url, _public in pages].index("bots") + 1
        pages.insert(at, ("bot", f"/bots/{seeded['bots'][0]}", False))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            for size, viewport in SIZES.items():
                context = browser.new_context(base_url=server.base, viewport=viewport)
                page = context.new_page()
                for name, url, public in pages:
                    if not public and not page.evaluate("!!sessionStorage.getItem('amk.token')"):
                        page.goto("/login")
                        page.evaluate(SIGN_IN_JS, [trader.account[k] for k in ("token", "refresh", "user")])
                    page.goto(url)
                    page.wait_for_selector("body[data-ready='1']")
                    if not public:
                        page.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=20000)
                    page.wait_for_load_state("networkidle")
                    page.wait_for_timeout(300)
                    path = args.out / f"{size}-{name}.png"
                    small_png(page.screenshot(), path)
                    written.append(path)
                    if size == "phone" and name == "dashboard":
                        page.click('[data-testid="menu-toggle"]')
                        path = args.out / "phone-menu.png"
                        small_png(page.screenshot(), path)
                        written.append(path)
                        page.keyboard.press("Escape")
                context.close()
            browser.close()
    finally:
        server.close()
    total = sum(p.stat().st_size for p in written)
    for p in written:
        sys.stdout.write(f"{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}  {p.stat().st_size // 1024} KB\n")
    sys.stdout.write(f"{len(written)} screenshots, {total // 1024} KB\n")


if __name__ == "__main__":
    main()
