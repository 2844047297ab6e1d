"""Read-only queries shared by the trading views, the assistant and the real-time feeds. All scoped to one user."""

from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from amarktai.utils import iso, money
from bots.models import Bot, BotStatus
from trading.models import Position, Trade

ZERO = Decimal("0")


def current_price(exchange, symbol):
    from trading.exchanges import market_data

    ticker = market_data(exchange).fetch_ticker(symbol)
    return Decimal(str(ticker["last"]))


def open_positions(user, prices=None):
    """Open positions with unrealised P&L at the current price (one price fetch per exchange/symbol)."""
    prices = {} if prices is None else prices
    rows = []
    for position in Position.objects.filter(user=user, is_open=True).order_by("-opened_at"):
        key = (position.exchange, position.symbol)
        if key not in prices:
            prices[key] = current_price(*key)
        price = prices[key]
        unrealised = (price - position.entry_price) * position.amount - position.entry_fee
        rows.append({
            "id": str(position.id),
            "bot_id": str(position.bot_id) if position.bot_id else None,
            "exchange": position.exchange,
            "symbol": position.symbol,
            "side": "long",
            "amount": money(position.amount),
            "entry_price": money(position.entry_price),
            "current_price": money(price),
            "value": money(price * position.amount, 2),
            "unrealised_pnl": money(unrealised, 2),
            "unrealised_pnl_pct": money(unrealised / (position.entry_price * position.amount) * 100, 4)
            if position.entry_price and position.amount else 0.0,
            "stop_loss": money(position.stop_loss),
            "take_profit": money(position.take_profit),
            "opened_at": iso(position.opened_at),
        })
    return rows


def metrics(user):
    bots = Bot.objects.filter(user=user).aggregate(
        total=Count("id"), active=Count("id", filter=Q(status=BotStatus.ACTIVE)),
        profit=Coalesce(Sum("total_profit"), ZERO), capital=Coalesce(Sum("current_capital"), ZERO),
        aggressive=Count("id", filter=Q(risk_mode="aggressive")))
    # Realised P&L of the user's own (manual) trades counts too; bot profits are kept on the bots.
    manual = Trade.objects.filter(user=user, bot__isnull=True).aggregate(p=Coalesce(Sum("profit_loss"), ZERO))["p"]
    closing = Trade.objects.filter(user=user, side="sell").exclude(profit_loss=0)
    closed_count = closing.count()
    wins = closing.filter(profit_loss__gt=0).count()
    win_rate = round(wins / closed_count * 100, 2) if closed_count else 0.0
    exposure_value = sum((p["value"] for p in open_positions(user)), 0.0)
    capital = float(bots["capital"])
    exposure = round(exposure_value / capital * 100, 2) if capital > 0 else 0.0
    aggressive_share = bots["aggressive"] / bots["total"] if bots["total"] else 0
    if exposure >= 60 or aggressive_share > 0.5:
        risk_level = "high"
    elif exposure >= 25 or aggressive_share > 0:
        risk_level = "moderate"
    else:
        risk_level = "low"
    return {
        "total_profit": money(bots["profit"] + manual, 2),
        "total_capital": money(bots["capital"], 2),
        "active_bots": bots["active"],
        "total_bots": bots["total"],
        "win_rate": win_rate,
        "exposure": exposure,
        "risk_level": risk_level,
    }
