"""Read-only queries over one user's bots, trades, positions and chat history (what the assistant talks about).

Every function takes the user and reads only that user's rows (``owned_by``): nothing here can see another tenant's
rows. Amounts are Decimals.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from bots.models import Bot, BotStatus
from chat.models import ChatMessage, CommandRecord
from trading.models import Position, Trade
from trading.valuation import Valuation, bag_of, quote_of

ZERO = Decimal("0")
HISTORY_DEFAULT = 50
HISTORY_MAX = 500

# Trades that realised P&L (closed or reduced a position): they count for the win rate.
CLOSING = ~Q(profit_loss=0)
# Trades that closed or reduced a position, whatever their P&L (a sell: the engine is long-only). A buy opens.
CLOSING_SIDE = Q(side="sell")


def day_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the current day in the active time zone (UTC by default)."""
    now = timezone.localtime(now or timezone.now())
    start = timezone.make_aware(datetime.combine(now.date(), time.min), now.tzinfo)
    return start, start + timedelta(days=1)


def user_bots(user: Any) -> list[Bot]:
    return list(Bot.objects.owned_by(user).order_by("created_at", "name"))


@dataclass
class Portfolio:
    """Totals in the user's base currency (``currency``), converted by trading.valuation; ``unpriced`` names the
    currencies left out of them for want of a rate."""

    total_bots: int
    active_bots: int
    paused_bots: int
    initial_capital: Decimal
    total_capital: Decimal
    total_profit: Decimal
    currency: str = "ZAR"
    unpriced: list[str] = field(default_factory=list)

    @property
    def profit_percentage(self) -> Decimal:
        if not self.initial_capital:
            return ZERO
        return self.total_profit / self.initial_capital * 100


def _converted(valuation: Valuation, bag: dict[str, Decimal], unpriced: set[str]) -> Decimal:
    converted = valuation.convert(bag)
    unpriced.update(converted.unpriced)
    return converted.total


def portfolio(user: Any) -> Portfolio:
    bots = list(
        Bot.objects.owned_by(user).values("symbol", "status", "initial_capital", "current_capital", "total_profit")
    )
    valuation = Valuation.for_user(user)
    unpriced: set[str] = set()
    figures = {
        name: _converted(valuation, bag_of((quote_of(b["symbol"]), b[name]) for b in bots), unpriced)
        for name in ("initial_capital", "current_capital", "total_profit")
    }
    return Portfolio(
        len(bots),
        sum(1 for b in bots if b["status"] == BotStatus.ACTIVE),
        sum(1 for b in bots if b["status"] == BotStatus.PAUSED),
        figures["initial_capital"],
        figures["current_capital"],
        figures["total_profit"],
        valuation.currency,
        sorted(unpriced),
    )


def recent_trades(user: Any, limit: int = 5) -> list[Trade]:
    return list(Trade.objects.owned_by(user).select_related("bot").order_by("-created_at")[:limit])


@dataclass
class WinRate:
    closed: int
    wins: int
    losses: int

    @property
    def rate(self) -> Decimal | None:
        if not self.closed:
            return None
        return Decimal(self.wins) / Decimal(self.closed) * 100


def win_rate(user: Any, bot: Bot | None = None) -> WinRate:
    qs = Trade.objects.owned_by(user).filter(CLOSING)
    if bot is not None:
        qs = qs.filter(bot=bot)
    agg = qs.aggregate(
        closed=Count("id"),
        wins=Count("id", filter=Q(profit_loss__gt=0)),
        losses=Count("id", filter=Q(profit_loss__lt=0)),
    )
    return WinRate(agg["closed"], agg["wins"], agg["losses"])


@dataclass
class Exposure:
    positions: list
    value: Decimal  # open positions at entry price
    total_capital: Decimal

    @property
    def percentage(self) -> Decimal:
        if not self.total_capital:
            return ZERO
        return self.value / self.total_capital * 100


def exposure(user: Any) -> Exposure:
    """Open positions at entry price, in the base currency, against the total capital (also converted)."""
    positions = list(Position.objects.owned_by(user).filter(is_open=True).select_related("bot").order_by("-opened_at"))
    value = Valuation.for_user(user).convert(bag_of((quote_of(p.symbol), p.amount * p.entry_price) for p in positions))
    return Exposure(positions, value.total, portfolio(user).total_capital)


@dataclass
class BotDay:
    bot: Bot
    profit: Decimal
    trades: int
    closed: int = 0  # of those trades, the ones that closed (or reduced) a position: only they book profit or loss

    @property
    def percentage(self) -> Decimal:
        if not self.bot.initial_capital:
            return ZERO
        return self.profit / self.bot.initial_capital * 100


@dataclass
class DailyReport:
    profit: Decimal
    trade_count: int
    wins: int
    losses: int
    per_bot: list = field(default_factory=list)  # BotDay for bots that traded today, best first
    paused: list = field(default_factory=list)  # paused bots
    active_bots: int = 0
    total_bots: int = 0
    closed_trades: int = 0  # today's trades that closed or reduced a position (sells); the rest opened positions

    @property
    def best(self) -> BotDay | None:
        return self.per_bot[0] if self.per_bot else None

    @property
    def worst(self) -> BotDay | None:
        return self.per_bot[-1] if len(self.per_bot) > 1 else None


def daily_report(user: Any, now: datetime | None = None) -> DailyReport:
    """Today's realised profit, trade count and per-bot results, straight from the Trade rows."""
    start, end = day_bounds(now)
    today = Trade.objects.owned_by(user).filter(created_at__gte=start, created_at__lt=end)
    agg = today.aggregate(count=Count("id"), closed=Count("id", filter=CLOSING_SIDE))
    by_market = today.values("symbol").annotate(p=Sum("profit_loss")).order_by()
    # Today's profit in the base currency: each market's P&L is in its quote currency (trading.valuation).
    agg["profit"] = Valuation.for_user(user).convert(bag_of((quote_of(r["symbol"]), r["p"]) for r in by_market)).total
    closing = today.filter(CLOSING)
    outcome = closing.aggregate(
        wins=Count("id", filter=Q(profit_loss__gt=0)), losses=Count("id", filter=Q(profit_loss__lt=0))
    )
    rows = (
        today.filter(bot__isnull=False)
        .values("bot_id")
        .annotate(profit=Sum("profit_loss"), trades=Count("id"), closed=Count("id", filter=CLOSING_SIDE))
    )
    bots = {b.id: b for b in Bot.objects.owned_by(user)}
    per_bot = [
        BotDay(bots[r["bot_id"]], r["profit"] or ZERO, r["trades"], r["closed"]) for r in rows if r["bot_id"] in bots
    ]
    per_bot.sort(key=lambda d: (-d.profit, d.bot.name))
    paused = sorted((b for b in bots.values() if b.status == BotStatus.PAUSED), key=lambda b: b.name)
    active = sum(1 for b in bots.values() if b.status == BotStatus.ACTIVE)
    return DailyReport(
        agg["profit"] or ZERO,
        agg["count"],
        outcome["wins"],
        outcome["losses"],
        per_bot,
        paused,
        active,
        len(bots),
        agg["closed"],
    )


def history(user: Any, limit: int = HISTORY_DEFAULT) -> list[ChatMessage]:
    """The user's newest ``limit`` messages (at most HISTORY_MAX), oldest first."""
    limit = max(1, min(int(limit), HISTORY_MAX))
    newest = list(ChatMessage.objects.owned_by(user).order_by("-id")[:limit])
    return list(reversed(newest))


COMMANDS_DEFAULT = 50
COMMANDS_MAX = 200


def command_history(user: Any, *, limit: int = COMMANDS_DEFAULT, offset: int = 0) -> tuple[list[CommandRecord], int]:
    """The user's commands (POST /api/commands), newest first, with their pending actions, and how many there are."""
    records = CommandRecord.objects.owned_by(user)
    limit = max(1, min(int(limit), COMMANDS_MAX))
    page = list(records.select_related("action").order_by("-created_at", "-id")[offset : offset + limit])
    return page, records.count()
