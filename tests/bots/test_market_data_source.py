"""Live bots decide only on their own exchange's real data; paper bots on the configured source; nothing is ever
substituted when a source fails; every trade records what priced it (price_source)."""

from decimal import Decimal

import pytest

from bots import engine
from bots.models import Bot, BotStatus
from tests.bots.test_engine import BUY, scaled
from tests.fake_exchange.fixtures import binance_via_fake, fake_exchange  # noqa: F401
from tests.fake_exchange.server import DEFAULT_KEY, DEFAULT_SECRET
from trading.models import Order, Trade
from wallets.models import ExchangeCredential

KLINES = "/api/v3/klines"


def make_bot(user, mode, **over):
    fields = {
        "user": user,
        "name": f"{mode} bot",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "trading_mode": mode,
        "strategy": "momentum",
        "initial_capital": Decimal("1000"),
        "current_capital": Decimal("1000"),
        "status": BotStatus.ACTIVE,
    }
    fields.update(over)
    return Bot.objects.create(**fields)


@pytest.fixture
def live_bot(user, binance_via_fake):
    credential = ExchangeCredential(user=user, platform="binance", keys_valid=True)
    credential.api_key, credential.api_secret = DEFAULT_KEY, DEFAULT_SECRET
    credential.save()
    return make_bot(user, "live")


@pytest.fixture
def unreachable_binance(settings):
    from trading.exchanges import ccxt_adapter

    settings.EXCHANGE_URL_OVERRIDES = {"binance": "http://127.0.0.1:9"}  # discard port: nothing listens
    settings.EXCHANGE_TIMEOUT_MS = 500
    settings.EXCHANGE_MAX_RETRIES = 0
    ccxt_adapter.reset_state()
    yield
    ccxt_adapter.reset_state()


@pytest.mark.django_db(transaction=True)
def test_live_bot_decides_on_its_exchanges_candles_with_the_simulated_default(live_bot, binance_via_fake, settings):
    settings.MARKET_DATA_SOURCE = "simulated"
    binance_via_fake.set_price("BTCUSDT", 50000)
    # The exchange's candles give a momentum buy on the last candle; the simulated feed's would be something else.
    binance_via_fake.candles["BTCUSDT"] = [[1_700_000_000_000 + row[0], *row[1:]] for row in scaled(BUY, 500)]

    counts = engine.tick_group("binance", "BTC/USDT", "1m", [str(live_bot.pk)])

    assert counts == {"traded": 1}
    assert binance_via_fake.count("GET", KLINES) >= 1
    assert binance_via_fake.count("POST", "/api/v3/order") == 1
    order = Order.objects.get(bot=live_bot)
    assert not order.is_paper and order.status == "closed"
    trade = Trade.objects.get(bot=live_bot)
    assert trade.price_source == "exchange"


@pytest.mark.django_db(transaction=True)
def test_live_bot_with_unreachable_exchange_fails_the_tick(user, unreachable_binance, settings):
    settings.MARKET_DATA_SOURCE = "simulated"
    credential = ExchangeCredential(user=user, platform="binance", keys_valid=True)
    credential.api_key, credential.api_secret = "k" * 16, "s" * 16
    credential.save()
    bot = make_bot(user, "live")

    assert engine.tick_group("binance", "BTC/USDT", "1m", [str(bot.pk)]) == {"error": 1}

    bot.refresh_from_db()
    assert bot.failure_count == 1 and bot.last_error
    assert not Order.objects.filter(bot=bot).exists()


@pytest.mark.django_db(transaction=True)
def test_live_source_never_falls_back_to_the_simulated_feed(user, unreachable_binance, settings):
    settings.MARKET_DATA_SOURCE = "live"
    bot = make_bot(user, "paper")

    assert engine.tick_group("binance", "BTC/USDT", "1m", [str(bot.pk)]) == {"error": 1}

    bot.refresh_from_db()
    assert bot.failure_count == 1 and bot.last_error
    assert not Order.objects.filter(bot=bot).exists()


@pytest.mark.django_db
def test_a_live_bot_refuses_candles_from_another_source(user):
    bot = make_bot(user, "live")
    assert engine.tick_bot(bot.pk, scaled(BUY, 500), "simulated") == "error"
    bot.refresh_from_db()
    assert "live" in bot.last_error and bot.failure_count == 1
    assert not Order.objects.filter(bot=bot).exists()


@pytest.mark.django_db
def test_paper_trades_record_the_simulated_source_and_the_api_shows_it(user, auth_client, settings):
    settings.MARKET_DATA_SOURCE = "simulated"
    bot = make_bot(
        user,
        "paper",
        exchange="luno",
        symbol="BTC/ZAR",
        initial_capital=Decimal("50000"),
        current_capital=Decimal("50000"),
    )
    assert engine.tick_bot(bot.pk, scaled(BUY, 12000)) == "traded"
    assert Trade.objects.get(bot=bot).price_source == "simulated"
    body = auth_client.get("/api/trades").json()
    assert [t["price_source"] for t in body["trades"]] == ["simulated"]


@pytest.mark.django_db(transaction=True)
def test_paper_trades_on_live_public_data_record_the_live_source(user, binance_via_fake, settings):
    settings.MARKET_DATA_SOURCE = "live"
    binance_via_fake.set_price("BTCUSDT", 50000)
    binance_via_fake.candles["BTCUSDT"] = [[1_700_000_000_000 + row[0], *row[1:]] for row in scaled(BUY, 500)]
    bot = make_bot(user, "paper")

    assert engine.tick_group("binance", "BTC/USDT", "1m", [str(bot.pk)]) == {"traded": 1}

    trade = Trade.objects.get(bot=bot)
    assert trade.is_paper and trade.price_source == "live"
    assert Decimal("49000") < trade.price < Decimal("51000")  # priced by the exchange's book, not the simulated feed
