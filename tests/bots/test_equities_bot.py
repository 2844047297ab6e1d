"""A paper bot on a stock market works like a crypto paper bot: created through the API, it ticks, trades whole shares
in session and waits while the market is closed (the simulated markets' clock is frozen by the test)."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from bots import engine
from bots.models import Bot
from tests.bots.test_engine import BUY, SELL, scaled
from tests.equities import NY_CLOSED, NY_NEXT_OPEN, US, clock, stock_platforms  # noqa: F401
from trading.models import Order, Position, Trade


@pytest.mark.django_db
def test_paper_bot_on_aapl_trades_in_session_and_waits_when_closed(auth_client, stock_platforms, clock):
    r = auth_client.post(
        "/api/bots",
        {
            "name": "Apple",
            "exchange": US.id,
            "symbol": "AAPL/USD",
            "strategy": "momentum",
            "initial_capital": 5000,
            "trading_mode": "paper",
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    bot_id = r.json()["bot"]["id"] if "bot" in r.json() else r.json()["id"]

    # The engine's own path (tick_group: simulated candles, shared per market) while the market is open.
    assert engine.tick_group(US.id, "AAPL/USD", "1m", [bot_id]) == {"ok": 1}
    bot = Bot.objects.get(pk=bot_id)
    assert bot.last_decision != "market_closed" and bot.last_tick_at is not None

    # In session: a buy signal becomes one market order of whole shares.
    assert engine.tick_bot(bot_id, scaled(BUY, 2.3)) == "traded"
    order = Order.objects.get(bot_id=bot_id)
    assert order.status == "closed" and order.filled == order.amount and order.filled == order.filled.to_integral()
    assert order.filled >= 1
    position = Position.objects.get(bot_id=bot_id, is_open=True)
    assert position.amount == order.filled

    # Closed (Saturday): the bot waits, whatever the candles say.
    clock.set(NY_CLOSED)
    cache.clear()
    assert engine.tick_bot(bot_id, scaled(SELL, 2.3)) == "ok"
    bot.refresh_from_db()
    assert bot.last_decision == "market_closed" and "opens at 2026-11-30T14:30" in bot.last_decision_reason
    assert Order.objects.filter(bot_id=bot_id).count() == 1
    detail = auth_client.get(f"/api/bots/{bot_id}").json()
    assert "market_closed" in str(detail)
    assert engine.tick_group(US.id, "AAPL/USD", "1m", [bot_id]) == {"ok": 1}  # flat candles while closed: still waits

    # Monday's open: the sell signal closes the position, P&L booked like any paper bot's.
    clock.set(NY_NEXT_OPEN + 60)
    assert engine.tick_bot(bot_id, scaled(SELL, 2.3)) == "traded"
    sell = Trade.objects.get(bot_id=bot_id, side="sell")
    assert sell.amount == position.amount and sell.fee > 0
    bot.refresh_from_db()
    assert bot.current_capital == Decimal("5000") + sell.profit_loss
    assert not Position.objects.filter(bot_id=bot_id, is_open=True).exists()
    trades = auth_client.get(f"/api/trades?bot_id={bot_id}").json()
    assert trades["total"] == 2
