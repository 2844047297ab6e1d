"""Manual exit ("force exit"): POST /api/positions/{id}/close and POST /api/bots/{id}/exit sell a position at market
exactly once, book a bot's P&L like a strategy exit, and refuse a position that is no longer open (409)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from bots import engine
from bots.models import Bot
from bots.services import close_position, close_position_by_id, create_bot, delete_bot, exit_bot
from realtime import events
from tests.bots.test_engine import BUY, scaled
from tests.helpers import assert_error
from trading.models import Order, OrderStatus, Position, Trade


@pytest.fixture
def bot(user):
    return create_bot(user, name="Alpha", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")


@pytest.fixture
def opened(bot):
    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "traded"
    return Position.objects.get(bot=bot, is_open=True)


@pytest.fixture
def published(monkeypatch):
    seen = []
    real = events.publish

    def spy(user_id, kind, payload):
        seen.append((kind, payload))
        return real(user_id, kind, payload)

    monkeypatch.setattr(events, "publish", spy)
    return seen


@pytest.mark.django_db
def test_close_position_sells_at_market_and_books_the_bots_pnl(auth_client, bot, opened, published):
    response = auth_client.post(f"/api/positions/{opened.pk}/close")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert body["order"]["side"] == "sell" and body["order"]["type"] == "market"
    assert body["order"]["status"] == "closed" and body["order"]["bot_id"] == str(bot.pk)
    assert body["position"]["id"] == str(opened.pk) and body["position"]["is_open"] is False
    sell = Trade.objects.get(bot=bot, side="sell")
    assert sell.amount == opened.amount
    bot.refresh_from_db()
    # The bot's books follow the exit exactly as they follow a strategy's sell.
    assert bot.total_profit == sell.profit_loss != 0
    assert bot.current_capital == Decimal("50000") + sell.profit_loss
    assert body["position"]["realised_pnl"] == pytest.approx(float(sell.profit_loss))
    kinds = [k for k, _ in published]
    assert events.TRADE_EXECUTED in kinds and events.PNL_UPDATE in kinds and events.POSITION_UPDATE in kinds
    update = next(p for k, p in published if k == events.POSITION_UPDATE)
    assert update["position"]["is_open"] is False and update["reason"] == "manual exit"
    # The bot keeps running.
    assert bot.status == "active"


@pytest.mark.django_db
def test_second_close_is_409_and_sells_nothing(auth_client, opened):
    assert auth_client.post(f"/api/positions/{opened.pk}/close").status_code == 200
    body = assert_error(auth_client.post(f"/api/positions/{opened.pk}/close"), 409, "POSITION_CLOSED")
    assert "already closed" in body["error"]
    assert Order.objects.filter(side="sell").count() == 1


@pytest.mark.django_db
def test_bot_exit_endpoint_and_no_position(auth_client, bot, opened):
    response = auth_client.post(f"/api/bots/{bot.pk}/exit")
    assert response.status_code == 200
    assert response.json()["position"]["id"] == str(opened.pk)
    body = assert_error(auth_client.post(f"/api/bots/{bot.pk}/exit"), 409, "POSITION_CLOSED")
    assert body["error"] == "Alpha has no open position"


@pytest.mark.django_db
def test_idempotency_key_replays_the_first_answer(auth_client, opened):
    first = auth_client.post(f"/api/positions/{opened.pk}/close", HTTP_IDEMPOTENCY_KEY="exit-1")
    again = auth_client.post(f"/api/positions/{opened.pk}/close", HTTP_IDEMPOTENCY_KEY="exit-1")
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Order.objects.filter(side="sell").count() == 1


@pytest.mark.django_db
def test_other_users_position_is_404(other_client, opened):
    assert_error(other_client.post(f"/api/positions/{opened.pk}/close"), 404, "NOT_FOUND")
    assert Position.objects.get(pk=opened.pk).is_open


@pytest.mark.django_db
def test_manual_position_closes_on_the_account_it_was_opened_on(auth_client, user):
    placed = auth_client.post(
        "/api/orders",
        {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "market", "amount": "0.01"},
        format="json",
    )
    assert placed.status_code == 201, placed.content
    position = Position.objects.get(user=user, bot__isnull=True, is_open=True)
    order, after = close_position_by_id(user, position.pk)
    assert order.is_paper and order.bot_id is None and order.amount == Decimal("0.01")
    assert after.is_open is False
    assert Trade.objects.filter(side="sell", bot__isnull=True).count() == 1


@pytest.mark.django_db
def test_a_rejected_close_does_not_block_the_next_attempt(user, opened):
    from trading import services as trading

    first_cid = trading.client_order_id("close", opened.pk, 0)
    Order.objects.create(
        user=user,
        exchange="luno",
        symbol="BTC/ZAR",
        side="sell",
        type="market",
        amount=opened.amount,
        status=OrderStatus.REJECTED,
        client_order_id=first_cid,
    )
    order, position = exit_bot(user, opened.bot_id)
    assert order.client_order_id == trading.client_order_id("close", opened.pk, 1)
    assert not position.is_open


@pytest.mark.django_db
def test_a_working_sell_order_blocks_a_second_sale(auth_client, user, opened):
    Order.objects.create(
        user=user,
        bot_id=opened.bot_id,
        exchange="luno",
        symbol="BTC/ZAR",
        side="sell",
        type="limit",
        amount=opened.amount,
        price="99999999",
        status=OrderStatus.OPEN,
        client_order_id="working-sell",
    )
    body = assert_error(auth_client.post(f"/api/positions/{opened.pk}/close"), 409, "CONFLICT")
    assert "still open" in body["error"]
    assert Position.objects.get(pk=opened.pk).is_open


@pytest.mark.django_db(transaction=True)
def test_concurrent_closes_sell_exactly_once(user):
    bot = create_bot(user, name="Race", exchange="luno", initial_capital=Decimal("50000"), strategy="momentum")
    engine.tick_bot(bot.pk, scaled(BUY, 12000))
    position = Position.objects.get(bot=bot, is_open=True)
    outcomes = []

    def close():
        try:
            close_position_by_id(user, position.pk)
            outcomes.append("closed")
        except Exception as exc:  # noqa: BLE001 - the loser's error is the point
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("closed") == 1, outcomes
    assert set(outcomes) - {"closed"} <= {"PositionClosed", "Conflict"}
    assert Order.objects.filter(bot=bot, side="sell").count() == 1


@pytest.mark.django_db
def test_delete_keeps_a_bot_whose_sale_has_not_filled(user, opened, monkeypatch):
    """A sale that has not filled yet (a live exchange can take a moment): the bot is stopped, not deleted, so the
    position is never left without its bot."""
    from trading.exchanges.paper import PaperExchange

    real = PaperExchange.create_order

    def slow(self, symbol, type, side, amount, price=None, client_order_id=None):
        if side == "sell":
            return {"id": "slow-1", "status": "open", "filled": 0}
        return real(self, symbol, type, side, amount, price=price, client_order_id=client_order_id)

    monkeypatch.setattr(PaperExchange, "create_order", slow)
    from amarktai.errors import Conflict

    with pytest.raises(Conflict, match="stopped, not deleted"):
        delete_bot(user, opened.bot_id)
    bot = Bot.objects.get(pk=opened.bot_id)
    assert bot.status == "stopped"
    assert Position.objects.get(pk=opened.pk).bot_id == bot.pk


@pytest.mark.django_db(transaction=True)
def test_live_position_closes_on_the_exchange(user, settings):
    """A live bot's position is sold with a real order on its exchange (the fake Binance), booked to the bot."""
    from tests.bots.test_market_data_source import make_bot
    from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET, FakeBinance
    from trading.exchanges import ccxt_adapter
    from wallets.models import ExchangeCredential

    with FakeBinance() as fake:
        settings.EXCHANGE_URL_OVERRIDES = {"binance": fake.url}
        settings.EXCHANGE_TIMEOUT_MS = 1500
        settings.EXCHANGE_RETRY_BASE_SECONDS = 0.01
        ccxt_adapter.reset_state()
        try:
            credential = ExchangeCredential(user=user, platform="binance", keys_valid=True)
            credential.api_key, credential.api_secret = DEFAULT_KEY, DEFAULT_SECRET
            credential.save()
            bot = make_bot(user, "live")
            fake.set_price("BTCUSDT", 50000)
            fake.candles["BTCUSDT"] = [[1_700_000_000_000 + row[0], *row[1:]] for row in scaled(BUY, 500)]
            assert engine.tick_group("binance", "BTC/USDT", "1m", [str(bot.pk)]) == {"traded": 1}
            position = Position.objects.get(bot=bot, is_open=True)
            fake.set_price("BTCUSDT", 51000)

            order, after = exit_bot(user, bot.pk)

            assert not order.is_paper and order.side == "sell" and order.status == "closed"
            assert fake.count("POST", "/api/v3/order") == 2
            assert after.pk == position.pk and not after.is_open
            sell = Trade.objects.get(bot=bot, side="sell")
            assert sell.price_source == "exchange" and sell.profit_loss > 0
            bot.refresh_from_db()
            assert bot.total_profit == sell.profit_loss
        finally:
            ccxt_adapter.reset_state()


@pytest.mark.django_db
def test_close_position_of_a_bot_for_the_kill_switch(user, bot, opened):
    order = close_position(bot, reason="trading stopped")
    assert order is not None and order.reason == "trading stopped" and order.bot_id == bot.pk
    assert not Position.objects.get(pk=opened.pk).is_open
    assert close_position(bot) is None  # nothing left to sell
