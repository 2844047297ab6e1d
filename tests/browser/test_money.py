"""Money in the portal, at desktop and phone sizes: the dashboard shows capital and realised / unrealised / total P&L
in the base currency (rand, USDT and USD converted, never added as they are), the open positions (pair, bot, entry,
current price, unrealised P&L and %, stop-loss, take-profit, age) updated live; the wallet relates its total value to
the bots' allocations; Settings switches the base currency."""

import re

import pytest

from tests.browser.test_portal import api, open_signed_in, register_via_api, shot, tid, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

SIZES = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}
BOTS = [
    {"name": "Rand Runner", "exchange": "luno", "symbol": "BTC/ZAR", "initial_capital": 20000},
    {"name": "Tether Trader", "exchange": "binance", "symbol": "BTC/USDT", "initial_capital": 5000},
    {"name": "Ether Rand", "exchange": "valr", "symbol": "ETH/ZAR", "initial_capital": 49946},
]


def amount(text):
    """The number in a displayed amount ("R 159 946.00", "+$1 234.50", "-R 3.10")."""
    digits = re.sub(r"[^0-9.\-]", "", text.replace("\u2212", "-"))
    return float(digits)


def buy(server, token, exchange, symbol, qty):
    order = {"exchange": exchange, "symbol": symbol, "side": "buy", "type": "market", "amount": qty}
    resp = api(server, token, "POST", "orders", order)
    assert resp.status_code == 201, resp.text


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "the page scrolls sideways"


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_wallet_and_base_currency(new_page, portal_server, screenshot_dir, size):
    account = register_via_api(portal_server, f"money{size}")
    token = account["token"]
    for bot in BOTS:
        resp = api(portal_server, token, "POST", "bots", {**bot, "trading_mode": "paper", "strategy": "momentum"})
        assert resp.status_code == 201, resp.text
    # Over-allocation is refused: R 99 999 999 against the R 100 000 paper account (R 20 000 already allocated).
    greedy = {**BOTS[0], "name": "Greedy", "initial_capital": 99999999}
    resp = api(portal_server, token, "POST", "bots", greedy)
    assert resp.status_code == 400 and "80000.00 ZAR" in resp.json()["details"]["initial_capital"][0]
    buy(portal_server, token, "binance", "BTC/USDT", "0.01")

    page = new_page(viewport=SIZES[size])
    open_signed_in(page, account, "/dashboard")
    wait_live(page)
    page.wait_for_selector('[data-testid="position-row"]')

    # Capital: R 20 000 + 5 000 USDT at the rate the page says + R 49 946, in rand (never "R 74 946").
    metrics = api(portal_server, token, "GET", "metrics").json()["metrics"]
    usdt = metrics["rates"]["USDT"]
    assert metrics["currency"] == "ZAR" and metrics["total_capital"] == pytest.approx(69946 + 5000 * usdt, abs=0.01)
    capital = tid(page, "metric-capital")
    expect(capital).to_have_text(re.compile(r"^R\u00a0\d"))
    assert amount(capital.inner_text()) == pytest.approx(metrics["total_capital"], abs=0.01)
    assert amount(capital.inner_text()) > 150000
    expect(tid(page, "valuation-note")).to_contain_text("1 USDT = R")
    expect(tid(page, "valuation-note")).to_contain_text("All totals in ZAR")
    for testid in ("metric-realised", "metric-unrealised", "metric-total-pnl"):
        expect(tid(page, testid)).to_have_text(re.compile(r"^[+\-]?R\u00a0\d"))
    realised = amount(tid(page, "metric-realised").inner_text())
    unrealised = amount(tid(page, "metric-unrealised").inner_text())
    assert amount(tid(page, "metric-total-pnl").inner_text()) == pytest.approx(realised + unrealised, abs=0.02)
    expect(tid(page, "breakdown-row")).to_have_count(2)  # ZAR and USDT, each in its own currency
    expect(tid(page, "breakdown-row").filter(has_text="USDT")).to_contain_text("5\u00a0000.00 USDT")

    # The open position: pair, bot, entry, current price, unrealised P&L and %, stop-loss, take-profit, age.
    row = tid(page, "position-row").filter(has_text="BTC/USDT")
    expect(row).to_have_count(1)
    expect(row.locator('[data-testid="position-bot"]')).to_have_text("Manual")
    expect(row.locator('[data-testid="position-price"]')).to_have_text(re.compile(r"\d.*USDT"))
    expect(row.locator('[data-testid="position-pnl"]')).to_have_text(re.compile(r"USDT.*%"))
    expect(row.locator('[data-testid="position-age"]')).to_have_text(re.compile(r"^\d+[smhd]"))
    labels = row.locator("td").evaluate_all("cells => cells.map(c => c.dataset.label)")
    assert labels == ["Pair", "Bot", "Entry", "Current", "Unrealised P&L", "Stop-loss", "Take-profit", "Age"]

    # Live: a position opened elsewhere appears without a reload; the figures follow.
    page.evaluate("window.__sameDocument = true")
    buy(portal_server, token, "luno", "BTC/ZAR", "0.001")
    expect(tid(page, "position-row").filter(has_text="BTC/ZAR")).to_have_count(1)
    expect(tid(page, "metric-open-count")).to_contain_text("2 open positions")
    caption = tid(page, "positions-caption").inner_text()
    page.wait_for_function(  # re-read as prices move (every few seconds)
        "c => document.querySelector('[data-testid=positions-caption]').textContent !== c", arg=caption, timeout=15000
    )
    assert page.evaluate("window.__sameDocument === true")

    if size == "phone":
        # Rows become cards: no table header, each cell labelled.
        assert not tid(page, "positions-table").locator("thead").is_visible()
        assert row.evaluate("r => getComputedStyle(r).display") == "block"
        no_sideways_scroll(page)
    else:
        assert tid(page, "positions-table").locator("thead").is_visible()
    shot(page, screenshot_dir / f"money-dashboard-{size}.png")

    # Wallet: total value in rand, what the bots were given of each account and what is free for new bots.
    page.goto("/wallet")
    page.wait_for_selector("body[data-ready='1']")
    wallet = api(portal_server, token, "GET", "wallet/balances").json()
    expect(tid(page, "wallet-total")).to_have_text(re.compile(r"^R\u00a0\d"))
    assert amount(tid(page, "wallet-total").inner_text()) == pytest.approx(wallet["total_value"], rel=1e-3)
    assert wallet["currency"] == metrics["currency"] and wallet["rates"]["USDT"] == pytest.approx(usdt, rel=0.01)
    expect(tid(page, "wallet-allocated")).to_have_text(re.compile(r"^R\u00a0\d"))
    assert amount(tid(page, "wallet-allocated").inner_text()) == pytest.approx(wallet["allocated_to_bots"], abs=0.01)
    expect(tid(page, "wallet-valuation-note")).to_contain_text("Total capital")
    luno = tid(page, "allocation-row").filter(has_text="Luno")
    expect(luno.locator('[data-testid="allocation-allocated"]')).to_have_text(re.compile(r"R\u00a020\u00a0000\.00"))
    # Each exchange's and broker's quote currency, with bots or not: one row each, as the API lists them.
    rows = sum(len(currencies) for currencies in wallet["allocations"].values())
    assert rows >= 8  # the five crypto exchanges and the three brokers
    expect(tid(page, "allocation-row")).to_have_count(rows)
    if size == "phone":
        assert not tid(page, "allocations-table").locator("thead").is_visible()
        no_sideways_scroll(page)
    shot(page, screenshot_dir / f"money-wallet-{size}.png")

    # Settings: the base currency becomes US dollars; the dashboard's totals follow.
    page.goto("/settings")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "currency-select")).to_have_value("ZAR")
    tid(page, "currency-select").select_option("USD")
    tid(page, "currency-save").click()
    expect(tid(page, "toast").filter(has_text="USD")).to_be_visible()
    assert api(portal_server, token, "GET", "auth/me").json()["user"]["currency"] == "USD"
    if size == "phone":
        no_sideways_scroll(page)
    page.goto("/dashboard")
    page.wait_for_selector("body[data-ready='1']")
    expect(tid(page, "metric-capital")).to_have_attribute("data-currency", "USD")
    expect(tid(page, "metric-capital")).to_have_text(re.compile(r"^(US)?\$\u00a0?\d"))
    expect(tid(page, "valuation-note")).to_contain_text("All totals in USD")
    in_usd = amount(tid(page, "metric-capital").inner_text())
    assert 5000 < in_usd < 69946 / 10 + 5000 * 1.2  # rand divided by ~18.5, USDT about one dollar
    assert not page.errors, page.errors
