"""The bot page's exits and protections in headless Chromium at 1360x900 and 390x844: the open position's exit plan and
live state, putting a trailing stop on it from the form and seeing the stop follow the price (the engine's exit check
run beside the server with a rising price), the protections in force, and the bot's history."""

import re
import subprocess
import sys

import pytest

from tests.browser.test_botdetail import VIEWPORTS, create_bot, manage_shell, no_sideways_scroll
from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid
from tests.servers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

SEED = """
import uuid
from decimal import Decimal
from accounts.models import User
from bots.models import Bot, BotEventKind
from bots.exits import record_event
from trading import services
from trading.models import Order, PaperBalance

user = User.objects.get(email={email!r})
bot = Bot.objects.get(pk={bot_id!r})
order = Order.objects.create(user=user, bot=bot, exchange="luno", symbol="BTC/ZAR", side="buy", type="market",
    amount=Decimal("0.01"), status="closed", client_order_id="seed-" + uuid.uuid4().hex, is_paper=True)
services.record_fill(order, Decimal("0.01"), Decimal("1000000"), Decimal("1"), "ZAR", price_source="simulated")
record_event(bot, BotEventKind.PROTECTION, "cooldown", "Cooldown: 30 min after the last exit", "seed-cooldown")
# The bought BTC in the paper account (the fill above was booked directly, not through the paper exchange).
PaperBalance.objects.update_or_create(
    user=user, platform="luno", currency="BTC", defaults={{"free": Decimal("0.01"), "used": Decimal("0")}}
)
"""

# One engine exit check of the bot's position at ``price`` (the ticker a paused bot's tick would read).
TICK = """
from decimal import Decimal
from bots.models import Bot
from bots.exits import run_exits
from trading.models import Position

class Ticker:
    def fetch_ticker(self, symbol):
        return {{"bid": Decimal({price!r}), "ask": Decimal({price!r}), "last": Decimal({price!r})}}

bot = Bot.objects.get(pk={bot_id!r})
run_exits(bot, Position.objects.get(bot=bot, is_open=True), Ticker())
"""

# The price falls under the stop: the engine's exit check sells on the paper exchange at that price.
FIRE = """
from decimal import Decimal
from django.core.cache import cache
from django.db import transaction
from bots.models import Bot
from bots.exits import run_exits
from trading.exchanges import get_exchange, simfeed
from trading.models import Position

price = Decimal({price!r})
quote = {{"bid": price, "ask": price, "last": price, "timestamp": 0}}
simfeed.ticker = lambda symbol, now=None, q=quote: {{"symbol": symbol, **q}}  # (shell -c: no closures)
cache.clear()
bot = Bot.objects.get(pk={bot_id!r})
with transaction.atomic():  # as in the engine's tick
    position = Position.objects.select_for_update().get(bot=bot, is_open=True)
    print(run_exits(bot, position, get_exchange(bot.user, "luno", "paper")))
"""


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_trailing_stop_follows_the_price_on_the_bot_page(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"exits{size}")
    token = account["token"]
    bot_id = create_bot(
        portal_server, token, "Trail Bot", params={"cooldown_minutes": 30, "tp1_at_pct": 20, "tp1_size_pct": 50}
    )
    assert api(portal_server, token, "POST", f"bots/{bot_id}/pause").status_code == 200  # the engine leaves it be
    manage_shell(portal_server, SEED.format(email=account["email"], bot_id=bot_id))

    page = new_page(viewport=VIEWPORTS[size])
    page.clock.install()  # real time, but the page's 15 s quiet refresh can be brought forward (fast_forward below)
    open_signed_in(page, account, f"/bots/{bot_id}")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "bot-exits-live")).to_be_visible()
    expect(tid(page, "bot-exits-execution")).to_contain_text("engine-side")
    expect(tid(page, "bot-exits-trailing-stop")).to_have_text("Off")
    expect(tid(page, "bot-exits-target")).to_have_count(1)  # from the bot's tp1 params
    expect(tid(page, "bot-protection")).to_contain_text("30")
    expect(tid(page, "bot-protections-blocking")).to_contain_text("No protection is blocking")
    expect(tid(page, "bot-history-row")).to_have_count(1)
    expect(tid(page, "bot-history-row")).to_contain_text("Cooldown: 30 min")

    # A bad value: the field error sits next to the input, nothing is saved.
    tid(page, "exits-trailing_stop").fill("0")
    tid(page, "bot-exits-save").click()
    expect(page.locator('[data-error-for="trailing_stop"]')).not_to_have_text("")
    # Put a 2 % trailing stop on the position.
    tid(page, "exits-trailing_stop").fill("2")
    tid(page, "bot-exits-save").click()
    expect(tid(page, "bot-exits-ok")).to_contain_text("Saved")
    # 2 % under the entry (the high so far)
    expect(tid(page, "bot-exits-trailing-stop")).to_contain_text(re.compile(r"980\s?000\.00"))
    expect(tid(page, "bot-history-row").first).to_contain_text("Exit plan")

    # The price rises: the engine's check moves the stop up, and the page follows it.
    manage_shell(portal_server, TICK.format(bot_id=bot_id, price="1050000"))
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "bot-exits-high")).to_contain_text(re.compile(r"1\s?050\s?000\.00"))
    expect(tid(page, "bot-exits-trailing-stop")).to_contain_text(re.compile(r"1\s?029\s?000\.00"))
    manage_shell(portal_server, TICK.format(bot_id=bot_id, price="1100000"))
    # No reload: the page's quiet refresh shows it.
    page.clock.fast_forward(15000)
    expect(tid(page, "bot-exits-trailing-stop")).to_contain_text(re.compile(r"1\s?078\s?000\.00"), timeout=25000)
    assert page.eval_on_selector_all(
        "[data-testid=bot-exits-target] td, [data-testid=bot-history-row] td",
        "cells => cells.every(c => c.dataset.label)",
    )
    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"40-bot-exits-{size}.png")

    # The price falls under the stop: it sells, the page and its history say so, and the trade says which exit.
    fired = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", FIRE.format(bot_id=bot_id, price="1070000")],
        cwd=ROOT,
        env=portal_server.env,
        capture_output=True,
        text=True,
    )
    assert fired.returncode == 0 and "Sold 0.01" in fired.stdout, fired.stderr[-2000:]
    page.clock.fast_forward(15000)
    expect(tid(page, "bot-exits-empty")).to_be_visible(timeout=25000)  # the quiet refresh: the position is gone
    page.reload()  # (the check ran in another process: the embedded server's feed did not carry its events)
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "bot-history-row").first).to_contain_text("Trailing stop: Sold 0.01 BTC/ZAR: trailing stop at")
    page.goto("/trades")
    page.wait_for_selector("body[data-ready='1']")
    sell = tid(page, "trade-row").filter(has=page.locator(".badge-sell"))
    expect(sell).to_have_count(1)
    title = sell.locator("td[data-label=Side]").get_attribute("title")
    assert title.startswith("trailing stop at 1078000") and title.endswith("(engine-side)"), title


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_protections_for_every_bot_on_the_settings_page(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"protect{size}")
    page = new_page(viewport=VIEWPORTS[size])
    open_signed_in(page, account, "/settings/trading")
    page.wait_for_selector("body[data-ready='1']")
    tid(page, "risk-cooldown_minutes").fill("-5")
    tid(page, "risk-save").click()
    expect(page.locator('[data-error-for="cooldown_minutes"]')).not_to_have_text("")
    tid(page, "risk-cooldown_minutes").fill("15")
    tid(page, "risk-sl_guard_count").fill("3")
    tid(page, "risk-save").click()
    expect(tid(page, "risk-ok")).to_have_text("Saved.")
    values = api(portal_server, account["token"], "GET", "config/risk").json()["values"]
    assert values["cooldown_minutes"] == 15 and values["sl_guard_count"] == 3
    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"41-protections-settings-{size}.png")
