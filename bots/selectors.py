"""Read queries over bots shared by views, the assistant and the real-time feeds.

GET /api/bots is the hottest read: the serialized list of a user's bots is cached (the default cache: Redis in
production, shared by every process) under a per-user version that every write to that user's bots bumps (save/delete
signals and BotQuerySet.update), so a read never sees a list older than the last committed write.
"""

import base64
import binascii
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import User
from amarktai import cache
from amarktai.renderers import Encoded
from amarktai.tenancy import access
from amarktai.utils import iso, money
from bots import exits, protections
from bots.listcache import invalidate_bot_list
from bots.listcache import version_key as _version_key
from bots.models import Bot, BotEvent, BotStatus, ExitPlan, StrategySignal, WebhookEvent
from bots.payloads import bot_payload
from trading.models import Position, Trade
from trading.selectors import access_position, round_trips_page, trade_tally_totals, valued_positions
from trading.valuation import Bag, Valuation, add, bag_of, quote_of

LIST_TTL = 300
ZERO = Decimal("0")
_LOCAL_MAX = 4096
_local_lists: OrderedDict[tuple[str, Any], Encoded] = (
    OrderedDict()
)  # (user_id, version) -> items: a version's list never changes, so memoizing it is safe
_local_lock = threading.Lock()


def access_bot(user: Any, bot_id: Any, *, lock: bool = False) -> Bot:
    """One of the user's bots; 404 for a missing or another user's bot alike. ``lock``: SELECT ... FOR UPDATE."""
    return access(Bot.objects, user, bot_id, "Bot", lock=lock)


def webhook_events(user: Any, bot_id: Any, *, offset: int = 0, limit: int = 50) -> tuple[Bot, list, int]:
    """A bot's received alerts (bots.webhooks), newest first: (bot, page, total)."""
    bot = access_bot(user, bot_id)
    rows = WebhookEvent.objects.owned_by(user).filter(bot=bot).order_by("-received_at", "-id")
    return bot, list(rows[offset : offset + limit]), rows.count()


def last_webhook_event(bot: Bot) -> WebhookEvent | None:
    return WebhookEvent.objects.filter(bot=bot, user_id=bot.user_id).order_by("-received_at", "-id").first()


def day_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the current day in the active time zone (UTC by default)."""
    now = timezone.localtime(now or timezone.now())
    start = timezone.make_aware(datetime.combine(now.date(), time.min), now.tzinfo)
    return start, start + timedelta(days=1)


def bot_round_trips(user: Any, bot_id: Any, *, offset: int = 0, limit: int = 100) -> tuple[Bot, list[dict], int]:
    """One of the user's bots (404 otherwise), a page of its round trips (newest first) and how many it has."""
    bot = access_bot(user, bot_id)
    trips, total = round_trips_page(user, bot_id=bot.pk, offset=offset, limit=limit)
    return bot, trips, total


EQUITY_MAX_POINTS = 1000


def equity_curve(user: Any, bot_id: Any) -> dict:
    """A bot's equity over time from its trades: initial capital at creation (or at its first trade, if earlier),
    then the capital after each trade that realised P&L (fees included). At most EQUITY_MAX_POINTS points (evenly
    thinned; the first and last always kept). {"bot_id", "initial_capital", "current_capital", "total_profit",
    "points": [{"timestamp", "equity", "profit"}]}."""
    bot = access_bot(user, bot_id)
    trades = Trade.objects.owned_by(user).filter(bot=bot)
    first = trades.order_by("created_at").values_list("created_at", flat=True).first()
    start = min(bot.created_at, first) if first else bot.created_at  # trades imported from before the bot's row
    equity, profit = bot.initial_capital, ZERO
    points = [{"timestamp": iso(start), "equity": money(equity, 2), "profit": 0.0}]
    closing = trades.exclude(profit_loss=0).order_by("created_at", "id").values_list("created_at", "profit_loss")
    for created_at, profit_loss in closing.iterator(chunk_size=2000):
        equity += profit_loss
        profit += profit_loss
        points.append({"timestamp": iso(created_at), "equity": money(equity, 2), "profit": money(profit, 2)})
    if len(points) > EQUITY_MAX_POINTS:
        step = (len(points) - 1) / (EQUITY_MAX_POINTS - 1)
        points = [points[round(i * step)] for i in range(EQUITY_MAX_POINTS)]
    return {
        "bot_id": str(bot.pk),
        "initial_capital": money(bot.initial_capital, 2),
        "current_capital": money(bot.current_capital, 2),
        "total_profit": money(bot.total_profit, 2),
        "points": points,
    }


def bot_counts(user: Any) -> dict:
    """{"active": n, "total": n} for one user's bots."""
    counts = Bot.objects.owned_by(user).aggregate(
        total=Count("id"), active=Count("id", filter=Q(status=BotStatus.ACTIVE))
    )
    return {"active": counts["active"], "total": counts["total"]}


def _owner(user: Any) -> User:
    """The user row (for its base currency), given the user or its id."""
    if isinstance(user, User):
        return user
    return User.objects.only("id", "currency", "system_mode").get(pk=user)


def _by_quote(rows: Any, field: str) -> Bag:
    """A bag {quote currency: amount} from rows of {"symbol", field} (a symbol's quote is its currency)."""
    return bag_of((quote_of(row["symbol"]), row[field]) for row in rows)


@dataclass
class AccountTotals:
    """A user's account-level figures, each kept per currency and converted once into the base currency."""

    totals: dict[str, Any]  # {figure: JSON number in the base currency}
    block: dict[str, Any]  # the valuation block: currency, rate_source, rates, breakdown, unpriced
    active_bots: int
    total_bots: int
    aggressive_bots: int
    open_positions: int
    no_price: int  # open positions without a current price (left out of the unrealised P&L)
    exposure: float  # open positions' value as a % of total capital (both converted)


def account_totals(
    user: Any, valuation: Valuation | None = None, now: datetime | None = None, tallies: dict | None = None
) -> AccountTotals:
    """Capital and P&L of one user: realised (bots' booked profit and the user's own trades), unrealised (open
    positions at current prices), their sum, and today's realised P&L; amounts kept per currency (a bot's money is in
    its market's quote currency) and converted into the user's base currency by ``trading.valuation``."""
    owner = _owner(user)
    valuation = valuation or Valuation.for_user(owner)
    bots = list(Bot.objects.owned_by(owner).values("symbol", "status", "risk_mode", "current_capital", "total_profit"))
    trades = Trade.objects.owned_by(owner)
    if tallies is None:  # running totals (trading.tallies): never a count of the whole history
        tallies = trade_tally_totals(owner)
    manual = tallies["own_pnl"]
    start, end = day_bounds(now)
    today = trades.filter(created_at__gte=start, created_at__lt=end).values("symbol").annotate(p=Sum("profit_loss"))
    positions = valued_positions(owner)

    capital = _by_quote(bots, "current_capital")
    realised = _by_quote(bots, "total_profit")
    for currency, amount in _by_quote(manual, "p").items():
        add(realised, currency, amount)
    unrealised = bag_of((p.currency, p.unrealised) for p in positions)
    total = dict(realised)
    for currency, amount in unrealised.items():
        add(total, currency, amount)
    totals, block = valuation.report(
        {
            "total_capital": capital,
            "total_profit": realised,
            "realised_pnl": realised,
            "unrealised_pnl": unrealised,
            "total_pnl": total,
            "daily_pnl": _by_quote(today.order_by(), "p"),
            "open_value": bag_of((p.currency, p.value) for p in positions),
        }
    )
    open_value = totals.pop("open_value")
    for figures in block["breakdown"].values():
        figures.pop("open_value", None)
    for figures in block["unpriced"].values():
        figures.pop("open_value", None)
    block["breakdown"] = {c: f for c, f in block["breakdown"].items() if f}
    block["unpriced"] = {c: f for c, f in block["unpriced"].items() if f}
    capital_base = totals["total_capital"]
    return AccountTotals(
        totals=totals,
        block=block,
        active_bots=sum(1 for b in bots if b["status"] == BotStatus.ACTIVE),
        total_bots=len(bots),
        aggressive_bots=sum(1 for b in bots if b["risk_mode"] == "aggressive"),
        open_positions=len(positions),
        no_price=sum(1 for p in positions if p.price is None),
        exposure=round(open_value / capital_base * 100, 2) if capital_base > 0 else 0.0,
    )


def overview(user_id: Any, acct: AccountTotals | None = None) -> dict:
    """The overview_update figures of one user: bot counts, capital and realised/unrealised/total P&L in the user's
    base currency, with the valuation block (currency, rates, per-currency breakdown, unpriced)."""
    acct = acct or account_totals(user_id)
    t = acct.totals
    return {
        "active_bots": acct.active_bots,
        "total_bots": acct.total_bots,
        "total_profit": t["total_profit"],
        "total_capital": t["total_capital"],
        "realised_pnl": t["realised_pnl"],
        "unrealised_pnl": t["unrealised_pnl"],
        "total_pnl": t["total_pnl"],
        "daily_pnl": t["daily_pnl"],
        "open_positions": acct.open_positions,
        "positions_without_price": acct.no_price,
        **acct.block,
    }


def account_pnl(user_id: Any, acct: AccountTotals | None = None) -> dict:
    """The account-level pnl_update (the seed's shape: total and daily P&L, open positions), in the base currency."""
    acct = acct or account_totals(user_id)
    t = acct.totals
    return {
        "scope": "account",
        "total_pnl": t["total_pnl"],
        "realised_pnl": t["realised_pnl"],
        "unrealised_pnl": t["unrealised_pnl"],
        "daily_pnl": t["daily_pnl"],
        "open_positions": acct.open_positions,
        "positions_without_price": acct.no_price,
        **acct.block,
    }


def bot_allocations(user: Any, trading_mode: str) -> dict[str, dict[str, dict[str, Any]]]:
    """What the user's bots (all but stopped ones) of one trading mode hold of each exchange account, per quote
    currency: {exchange: {currency: {"allocated", "in_positions", "bots"}}}. ``allocated`` is the capital given to the
    bots and not spent (current capital less the cost of their open position): a claim on the account's free balance;
    ``in_positions`` is what their open positions cost."""
    bots = list(
        Bot.objects.owned_by(user)
        .filter(trading_mode=trading_mode)
        .exclude(status=BotStatus.STOPPED)
        .only("id", "exchange", "symbol", "current_capital")
    )
    deployed = {
        p.bot_id: p.entry_price * p.amount + p.entry_fee
        for p in Position.objects.filter(bot__in=bots, is_open=True).only(
            "bot_id", "entry_price", "amount", "entry_fee"
        )
    }
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for bot in bots:
        cost = deployed.get(bot.pk, ZERO)
        row = out.setdefault(bot.exchange, {}).setdefault(
            quote_of(bot.symbol), {"allocated": ZERO, "in_positions": ZERO, "bots": 0}
        )
        row["allocated"] += max(bot.current_capital - cost, ZERO)
        row["in_positions"] += cost
        row["bots"] += 1
    return out


def total_bots(user_id: Any) -> int:
    return Bot.objects.owned_by(user_id).count()


def metrics(user: Any) -> dict:
    """GET /api/metrics: the contract's figures (money in the user's base currency) plus realised, unrealised, total
    and daily P&L, open positions and the valuation block."""
    tallies = trade_tally_totals(user)
    acct = account_totals(user, tallies=tallies)
    closed_count, wins = tallies["closed"], tallies["wins"]
    win_rate = round(wins / closed_count * 100, 2) if closed_count else 0.0
    aggressive_share = acct.aggressive_bots / acct.total_bots if acct.total_bots else 0
    if acct.exposure >= 60 or aggressive_share > 0.5:
        risk_level = "high"
    elif acct.exposure >= 25 or aggressive_share > 0:
        risk_level = "moderate"
    else:
        risk_level = "low"
    t = acct.totals
    return {
        "total_profit": t["total_profit"],
        "total_capital": t["total_capital"],
        "active_bots": acct.active_bots,
        "total_bots": acct.total_bots,
        "win_rate": win_rate,
        "exposure": acct.exposure,
        "risk_level": risk_level,
        "realised_pnl": t["realised_pnl"],
        "unrealised_pnl": t["unrealised_pnl"],
        "total_pnl": t["total_pnl"],
        "daily_pnl": t["daily_pnl"],
        "open_positions": acct.open_positions,
        "positions_without_price": acct.no_price,
        **acct.block,
    }


def bot_list(user: Any) -> list[dict]:
    """The user's bots as GET /api/bots items (newest first), from the cache when current."""
    return bot_list_encoded(user).items


def bot_list_encoded(user: Any) -> Encoded:
    """bot_list's items with their JSON bytes, worked out once per version in each process (the API's renderer splices
    them in: encoding 100 bots was a fifth of the request). The same version, so exactly as current as the items."""
    version = cache.pinned_get(user, _version_key(user.pk))  # fetched with the user at authentication
    if version is None:
        # No version yet (or the cache is down): read the database, and start a version so later reads can cache.
        cache.incr_or_set(_version_key(user.pk))
        return Encoded(_bot_payloads(user))
    local_key = (str(user.pk), version)
    found = _local_lists.get(local_key)
    if found is not None:
        return found
    key = f"bots:list:{user.pk}:{version}"
    items = cache.get(key)
    if items is None:
        items = _bot_payloads(user)
        cache.set(key, items, LIST_TTL)
    found = Encoded(items)
    with _local_lock:
        _local_lists[local_key] = found
        while len(_local_lists) > _LOCAL_MAX:
            _local_lists.popitem(last=False)
    return found


def _bot_payloads(user: Any) -> list[dict]:
    """The items from the database in one query: an admin-locked bot's payload names the admin (bots.payloads)."""
    return [bot_payload(bot) for bot in Bot.objects.owned_by(user).select_related("paused_by")]


def _on_bot_change(sender: type, instance: Bot, **kwargs: Any) -> None:
    invalidate_bot_list(instance.user_id)


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    cache.register_per_user_key(_version_key)

    post_save.connect(_on_bot_change, sender=Bot, dispatch_uid="bots-list-cache-save")
    post_delete.connect(_on_bot_change, sender=Bot, dispatch_uid="bots-list-cache-delete")


# --- strategy signals -----------------------------------------------------------------------------------------------
# GET /api/signals pages with a cursor on (created_at, id), newest first: every page is one range scan of the
# (user, -created_at, -id) index however deep it goes (no OFFSET, no COUNT over a million rows).


def encode_signal_cursor(signal: StrategySignal) -> str:
    """The opaque cursor that continues after ``signal``."""
    raw = f"{signal.created_at.isoformat()}|{signal.id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_signal_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """(created_at, id) of a cursor from encode_signal_cursor; ValueError when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        stamp, _, hex_id = raw.partition("|")
        created_at = datetime.fromisoformat(stamp)
        signal_id = uuid.UUID(hex=hex_id)
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        created_at = created_at.astimezone(UTC)  # OverflowError past year 9999 or before year 1
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise ValueError("not a cursor from this list") from exc
    return created_at, signal_id


def access_signal(user: Any, signal_id: Any) -> StrategySignal:
    """One of the user's signals; 404 for a missing or another user's signal alike."""
    return access(StrategySignal.objects, user, signal_id, "Signal")


def signals_queryset(
    user: Any,
    *,
    symbol: str | None = None,
    strategy: str | None = None,
    side: str | None = None,
    outcome: str | None = None,
    bot_id: Any = None,
    min_confidence: Decimal | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Any:
    """The user's signals matching the filters, newest first, after the cursor position ``after`` ((created_at, id) of
    the last row of the previous page). ``since`` is inclusive, ``until`` exclusive."""
    rows = StrategySignal.objects.owned_by(user)
    if symbol:
        rows = rows.filter(symbol=symbol.upper())
    if strategy:
        rows = rows.filter(strategy=strategy)
    if side:
        rows = rows.filter(side=side)
    if outcome:
        rows = rows.filter(outcome=outcome)
    if bot_id:
        rows = rows.filter(bot_id=bot_id)
    if min_confidence is not None:
        rows = rows.filter(confidence__gte=min_confidence)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    if after is not None:
        created_at, last_id = after
        # created_at <= c bounds the index range; the OR only looks at the rows of that very instant.
        rows = rows.filter(created_at__lte=created_at).filter(Q(created_at__lt=created_at) | Q(id__lt=last_id))
    return rows.order_by("-created_at", "-id")


def signals_page(user: Any, *, limit: int = 50, **filters: Any) -> tuple[list[StrategySignal], StrategySignal | None]:
    """Up to ``limit`` of signals_queryset(user, **filters), and the last of them when more follow (else None)."""
    page = list(signals_queryset(user, **filters)[: limit + 1])
    if len(page) > limit:
        return page[:limit], page[limit - 1]
    return page, None


def trading_state(user_id: Any) -> dict:
    """The platform's trading switch (without who changed it) and the user's kill switch (for /api/system/status)."""
    from bots.models import TradingSwitch
    from trading import system

    stopped = TradingSwitch.objects.owned_by(user_id).filter(stopped=True).exists()
    return {"system": system.current().public(), "user": "stopped" if stopped else "running"}


# --- exits, protections, history (bots.exits, bots.protections) ----------------------------------------------------
def position_exits(user: Any, position_id: Any) -> dict:
    """GET /api/positions/{id}/exits: one of the user's positions' exit plan and its live state (404 otherwise). A bot
    position the engine has not planned yet shows the plan its bot's parameters give."""
    position = access_position(user, position_id)
    exit_plan = ExitPlan.objects.owned_by(user).filter(position=position).first()
    if exit_plan is None and position.bot_id and position.is_open:
        bot = Bot.objects.owned_by(user).filter(pk=position.bot_id).only("params").first()
        plan = exits.plan_from_params(bot.params if bot else {})
        if exits.has_exits(plan):
            exit_plan = ExitPlan(
                position=position, user=user, plan=plan, state=exits.new_state(position.amount, position.entry_price)
            )
    return exits.exits_payload(position, exit_plan)


def bot_exits_and_protections(bot: Bot) -> dict:
    """The bot detail's ``exits`` (its open position's plan and live state, null when flat) and ``protections`` (the
    settings in force, and the one blocking entries now, if any)."""
    position = Position.objects.filter(bot=bot, is_open=True).first()
    found = None
    if position is not None:
        exit_plan = ExitPlan.objects.filter(position=position).first()
        if exit_plan is None:
            plan = exits.plan_from_params(bot.params)
            exit_plan = (
                ExitPlan(position=position, plan=plan, state=exits.new_state(position.amount, position.entry_price))
                if exits.has_exits(plan)
                else None
            )
        found = exits.exits_payload(position, exit_plan)
    settings_, per_user = protections.settings_for(bot)
    blocking = protections.check(bot)
    return {
        "exits": found,
        "protections": {
            "settings": settings_,
            "per_user": sorted(per_user),
            "blocking": {"name": blocking[0], "reason": blocking[1]} if blocking else None,
        },
    }


def bot_history(user: Any, bot_id: Any, *, offset: int = 0, limit: int = 100) -> tuple[Bot, list[dict], int]:
    """GET /api/bots/{id}/history: the bot's exits, protection events and exit-plan changes, newest first."""
    bot = access_bot(user, bot_id)
    rows = BotEvent.objects.owned_by(user).filter(bot=bot)
    page = [
        {
            "id": str(e.id),
            "kind": e.kind,
            "name": e.name,
            "message": e.message,
            "data": e.data,
            "created_at": iso(e.created_at),
        }
        for e in rows[offset : offset + limit]
    ]
    return bot, page, rows.count()


def streamed_markets() -> list[tuple[str, str, str, str]]:
    """(exchange, symbol, timeframe, source) of every bot that ticks: the markets the market-data service streams for
    the bots (trading.marketdata.register_demand; live bots on their exchange's live data, paper bots on
    MARKET_DATA_SOURCE)."""
    from trading.exchanges import source_for

    rows = (
        Bot.objects.filter(status__in=(BotStatus.ACTIVE, BotStatus.CREATED), paused_by_admin=False)
        .values_list("exchange", "symbol", "timeframe", "trading_mode")
        .distinct()
    )
    return [(exchange, symbol, timeframe, source_for(mode)) for exchange, symbol, timeframe, mode in rows]
