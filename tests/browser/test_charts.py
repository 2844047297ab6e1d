"""The live price charts (static/portal/chart.js) on the bot page and the dashboard, and the Markets page, in headless
Chromium at 1360x900 and 390x844, against the real server (Daphne, the embedded scheduler, the simulated feed).

Candles, quotes and order books come from the real /api/market/* endpoints. The WebSocket goes through Playwright's
WebSocket route, connected to the real server: the test sees what the page sends (its subscriptions) and can hand the
page one `market_update` of its own at a chosen price, so "the last price moves" is checked exactly. While it does,
the server's own market_updates are held back (they would move the price too); everything else passes through."""

import json
import re
import time

import pytest

from tests.browser.test_botdetail import SEED, create_bot, manage_shell
from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

VIEWPORTS = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}
MARKET = "luno:BTC/ZAR"


@pytest.fixture(scope="module")
def seeded(portal_server):
    """An account with one paused bot on luno BTC/ZAR and its three fills in the last three hours (buy, sell, buy): on
    the 1-minute chart (300 candles, five hours) they are three markers."""
    account = register_via_api(portal_server, "charlotte")
    bot_id = create_bot(portal_server, account["token"], "Chart Bot", strategy="breakout", params={"position_pct": 0.1})
    assert api(portal_server, account["token"], "POST", f"bots/{bot_id}/pause").status_code == 200
    manage_shell(portal_server, SEED.format(email=account["email"], bot_id=bot_id, manual=0))
    return {**account, "bot_id": bot_id}


class FeedTap:
    """The page's /api/ws connection, routed through the test to the real server."""

    def __init__(self, page):
        self.sent = []  # what the page sent (parsed)
        self.received = []  # what the server sent (parsed)
        self.hold_market_updates = True
        self.route = None
        page.route_web_socket(re.compile(r".*/api/ws.*"), self._connect)

    def _connect(self, route):
        self.route = route
        server = route.connect_to_server()

        def from_page(message):
            self.sent.append(json.loads(message))
            server.send(message)

        def from_server(message):
            msg = json.loads(message)
            self.received.append(msg)
            if not (self.hold_market_updates and msg.get("type") == "market_update"):
                route.send(message)

        route.on_message(from_page)
        server.on_message(from_server)

    def subscribed(self):
        """The symbols the page has subscribed (and not unsubscribed since), in order."""
        out = []
        for msg in self.sent:
            if msg.get("type") == "subscribe":
                out += [s for s in msg["symbols"] if s not in out]
            elif msg.get("type") == "unsubscribe":
                out = [s for s in out if s not in msg["symbols"]]
        return out

    def market_update(self, price, at=None, symbol=MARKET, change_pct=-0.5):
        exchange, sym = symbol.split(":", 1)
        data = {"exchange": exchange, "symbol": sym, "last": price, "bid": price - 10, "ask": price + 10}
        data.update(change_pct=change_pct, volume=12.5, timestamp=(at or time.time()) * 1000)
        self.route.send(json.dumps({"type": "market_update", "data": data}))


def open_tapped(new_page, size, account, path):
    page = new_page(viewport=VIEWPORTS[size])
    tap = FeedTap(page)
    open_signed_in(page, account, path)
    wait_live(page)
    return page, tap


def eventually(page, check, timeout=10):
    """Wait (letting Playwright deliver the WebSocket route's events) until check() holds."""
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, "timed out"
        page.wait_for_timeout(50)


def no_sideways_scroll(page):
    """The page does not scroll sideways; else the elements that stick out are named."""
    wide = page.evaluate(
        """() => {
      const vw = document.documentElement.clientWidth;
      if (document.documentElement.scrollWidth <= vw) return [];
      return [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > vw + 1)
        .map((el) => `${el.tagName.toLowerCase()}[${el.dataset.testid || el.className}] ${el.textContent.slice(0, 20)}`)
        .slice(0, 15);
    }"""
    )
    assert wide == []


def shown(text):
    """The digits of a price as the page writes it (groups with non-breaking spaces, a currency sign)."""
    return re.sub(r"[^\d.]", "", text)


def check_chart(page, tap, box, prefix, server, account, markers):
    """The chart drew the API's candles on a canvas, subscribed its market, marks `markers` trades, and a market_update
    moves its last price (and a later one starts the next candle)."""
    expect(box).to_have_attribute("data-state", re.compile("ready"))
    expect(box).to_have_attribute("data-market", MARKET)
    ohlcv = api(server, account["token"], "GET", "market/ohlcv?exchange=luno&symbol=BTC/ZAR&timeframe=1m&limit=300")
    candles = ohlcv.json()["candles"]
    assert len(candles) > 100
    assert abs(int(box.get_attribute("data-candles")) - len(candles)) <= 1  # a candle may have closed in between
    canvas = box.locator("canvas").first
    expect(canvas).to_be_visible()
    assert canvas.bounding_box()["width"] > 200
    expect(box).to_have_attribute("data-markers", str(markers))
    eventually(page, lambda: MARKET in tap.subscribed())
    expect(box).to_have_attribute("data-feed", "subscribed")  # the server's answer to the page's subscription
    assert any(m["type"] == "subscribed" and MARKET in m["symbols"] for m in tap.received)

    before = int(box.get_attribute("data-candles"))
    last = round(candles[-1]["close"] * 1.01, 2)
    tap.market_update(last)
    expect(box).to_have_attribute("data-last", str(last))
    assert shown(tid(page, f"{prefix}-last").text_content()) == f"{last:.2f}"
    expect(tid(page, f"{prefix}-change")).to_have_text("-0.5%")
    expect(box).to_have_attribute("data-updates", "1")
    now_candles = int(box.get_attribute("data-candles"))
    assert now_candles in (before, before + 1)  # this minute's candle, new unless the API already had it
    tap.market_update(last + 100, at=time.time() + 60)  # the next minute: a new candle
    expect(box).to_have_attribute("data-candles", str(now_candles + 1))
    expect(box).to_have_attribute("data-last", str(last + 100))


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_bot_page_live_chart_with_its_trades(new_page, portal_server, seeded, size, screenshot_dir):
    page, tap = open_tapped(new_page, size, seeded, f"/bots/{seeded['bot_id']}")
    box = tid(page, "bot-price-chart")
    expect(box).to_be_visible()
    check_chart(page, tap, box, "bot-chart", portal_server, seeded, markers=3)
    expect(tid(page, "bot-chart-market")).to_have_text("luno · BTC/ZAR")
    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"charts-bot-{size}.png")
    assert page.errors == []


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_dashboard_live_chart_of_the_bots_market(new_page, portal_server, seeded, size, screenshot_dir):
    page, tap = open_tapped(new_page, size, seeded, "/dashboard")
    expect(tid(page, "dash-chart-picker")).to_have_value(MARKET)
    box = tid(page, "dash-price-chart")
    check_chart(page, tap, box, "dash-chart", portal_server, seeded, markers=3)
    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"charts-dashboard-{size}.png")
    assert page.errors == []


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_markets_page_quote_depth_chart_and_scan(new_page, portal_server, seeded, size, screenshot_dir):
    # The embedded scheduler runs the first scan when the server starts: wait for it (it reads no exchange).
    deadline = time.time() + 90
    while not api(portal_server, seeded["token"], "GET", "market/scan").json()["scanned_at"]:
        assert time.time() < deadline, "no scan ran"
        time.sleep(1)
    page, tap = open_tapped(new_page, size, seeded, "/markets?exchange=luno&symbol=BTC/ZAR")
    card = tid(page, "market-quote-card")
    expect(card).to_have_attribute("data-loaded", "1")
    expect(tid(page, "market-exchange")).to_have_value("luno")
    expect(tid(page, "market-symbol")).to_have_value("BTC/ZAR")
    last = float(tid(page, "market-last").get_attribute("data-value"))
    bid = float(tid(page, "market-bid").get_attribute("data-value"))
    ask = float(tid(page, "market-ask").get_attribute("data-value"))
    assert 0 < bid <= ask and last > 0

    # The order book: both sides, best first, the best bid below the best ask.
    bids = page.locator('[data-testid="market-bids"] [data-testid="depth-row"]')
    asks = page.locator('[data-testid="market-asks"] [data-testid="depth-row"]')
    expect(bids.first).to_be_visible()
    expect(asks.first).to_be_visible()
    bid_prices = [float(shown(t)) for t in bids.locator("td:first-child").all_text_contents()]
    ask_prices = [float(shown(t)) for t in asks.locator("td:first-child").all_text_contents()]
    assert len(bid_prices) >= 5 and len(ask_prices) >= 5
    assert bid_prices == sorted(bid_prices, reverse=True) and ask_prices == sorted(ask_prices)
    assert bid_prices[0] < ask_prices[0]

    # The chart, live; the quote follows the same market_update.
    check_chart(page, tap, tid(page, "market-price-chart"), "market-chart", portal_server, seeded, markers=0)
    assert float(tid(page, "market-last").get_attribute("data-value")) == float(
        tid(page, "market-price-chart").get_attribute("data-last")
    )
    expect(tid(page, "market-quote-age")).to_contain_text("Live")

    # Another market: the page subscribes it instead of the first, draws its candles, and the server's own
    # market_updates now reach the quote and the chart. (Every ticker written to the market-data cache is fanned out
    # to the market's subscribers. Without the streaming service, the writes here are the REST fetches of tickers gone
    # stale (MARKET_DATA_STALE_SECONDS, 30 s), which the indices' refresh (every 30 s) makes: one within a minute.)
    other = {"desktop": "ETH/ZAR", "phone": "XRP/ZAR"}[size]
    tap.hold_market_updates = False
    tid(page, "market-symbol").select_option(other)
    chart = tid(page, "market-price-chart")
    expect(chart).to_have_attribute("data-market", f"luno:{other}")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(card).to_have_attribute("data-loaded", "1")
    eventually(page, lambda: tap.subscribed() == [f"luno:{other}"])
    expect(chart).to_have_attribute("data-feed", "subscribed")
    assert f"symbol={other.replace('/', '%2F')}" in page.url

    def real_updates():
        return [m["data"] for m in tap.received if m["type"] == "market_update" and m["data"]["symbol"] == other]

    eventually(page, lambda: real_updates(), timeout=75)
    expect(chart).not_to_have_attribute("data-updates", "0")
    eventually(page, lambda: float(chart.get_attribute("data-last")) == real_updates()[-1]["last"])
    assert float(tid(page, "market-last").get_attribute("data-value")) == real_updates()[-1]["last"]
    # The latest scan: when it ran and its opportunities, ranked by confidence.
    scan = tid(page, "market-scan-card")
    expect(tid(page, "market-scan-at")).not_to_have_text("")
    scan_api = api(portal_server, seeded["token"], "GET", "market/scan").json()
    rows = page.locator('[data-testid="scan-row"]')
    expect(rows).to_have_count(len(scan_api["opportunities"]))
    if scan_api["opportunities"]:
        confidences = [float(c) for c in rows.evaluate_all("rs => rs.map(r => r.dataset.confidence)")]
        assert confidences == sorted(confidences, reverse=True)
    else:
        expect(tid(page, "market-scan-empty")).to_be_visible()
    assert scan.get_attribute("data-scanned-at") == scan_api["scanned_at"]
    expect(tid(page, "market-scan-at")).to_contain_text(f"over {scan_api['markets_scanned']} markets")

    # The reference indices, as the API gives them.
    indices = api(portal_server, seeded["token"], "GET", "market/indices").json()["indices"]
    tiles = page.locator('[data-testid="index-tile"]')
    expect(tiles).to_have_count(len(indices))
    assert {t.get_attribute("data-id") for t in tiles.all()} == {ix["id"] for ix in indices}

    no_sideways_scroll(page)
    shot(page, screenshot_dir / f"charts-markets-{size}.png")
    assert page.errors == []
