"""Protections: reasons a bot opens no new position for a while (exits always run). The engine asks
``entry_block(bot)`` when a flat bot's strategy wants to buy; the first protection in force answers, in this order:

- stop-loss guard: ``sl_guard_count`` stop-loss exits (the strategy's stop loss, a trailing stop, a breakeven stop)
  within the last ``sl_guard_window_minutes`` pause new entries until the window holds fewer;
- max drawdown: the bot's capital ``max_drawdown_pct`` % or more below its peak (Bot.peak_capital) pauses entries;
- cooldown: no entry for ``cooldown_minutes`` after the bot's last position closed;
- low-profit pair lock: when the realised P&L of the bot's last ``pair_lock_trips`` closed positions on its symbol, as
  a % of its initial capital, is below ``pair_lock_min_profit_pct``, the symbol is locked for ``pair_lock_minutes``
  after the last of them closed.

Per bot: the bot's params (PROTECTION_PARAMS in bots.strategies.base, all off by default). Per user: the same names
in the ``risk`` config section (GET/PUT /api/config/risk) apply to each of the user's bots, counted over all of them
for the stop-loss guard and the cooldown; a bot's own value wins. Each time a protection starts blocking, one
``alert`` (with ``"kind": "protection"``) is published and one line is added to the bot's history
(GET /api/bots/{id}/history).
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.selectors import config_section
from bots import exits
from bots.models import Bot, BotEvent, BotEventKind
from bots.strategies.base import PROTECTION_PARAMS
from realtime import events
from trading.models import Position

HUNDRED = Decimal("100")


def settings_for(bot: Bot) -> tuple[dict, dict]:
    """(the bot's protection settings, the user's filling in what the bot leaves off; which of them are per user)."""
    own = {k: v for k, v in (bot.params or {}).items() if k in PROTECTION_PARAMS}
    user = {k: v for k, v in config_section(bot.user_id, "risk").items() if k in PROTECTION_PARAMS and v is not None}
    merged = {name: spec["default"] for name, spec in PROTECTION_PARAMS.items()}
    per_user = {k: True for k in user if k not in own}
    merged.update(user)
    merged.update(own)
    return merged, per_user


def _stoploss_guard(bot: Bot, s: dict, per_user: dict, now: datetime) -> tuple[str, str, str] | None:
    count = int(s["sl_guard_count"] or 0)
    if count <= 0:
        return None
    window = int(s["sl_guard_window_minutes"])
    exits_ = BotEvent.objects.filter(
        kind=BotEventKind.EXIT, name__in=exits.STOP_KINDS, created_at__gte=now - timedelta(minutes=window)
    )
    exits_ = exits_.filter(user_id=bot.user_id) if per_user.get("sl_guard_count") else exits_.filter(bot=bot)
    stops = list(exits_.order_by("-created_at").values_list("created_at", flat=True)[:count])
    if len(stops) < count:
        return None
    scope = "your bots" if per_user.get("sl_guard_count") else "this bot"
    until = stops[-1] + timedelta(minutes=window)
    return (
        "stoploss_guard",
        f"Stop-loss guard: {count} stop-loss exits of {scope} within {window} min; "
        f"no new entry until {until:%H:%M} UTC",
        f"{stops[0].isoformat()}",
    )


def _max_drawdown(bot: Bot, s: dict) -> tuple[str, str, str] | None:
    limit = Decimal(str(s["max_drawdown_pct"] or 0))
    if limit <= 0:
        return None
    peak = max(bot.peak_capital or bot.initial_capital, bot.initial_capital)
    if peak <= 0:
        return None
    drawdown = (peak - bot.current_capital) / peak * HUNDRED
    if drawdown < limit:
        return None
    return (
        "max_drawdown",
        f"Max drawdown: capital {bot.current_capital:.2f} is {drawdown:.2f}% below its peak {peak:.2f} "
        f"(limit {limit}%)",
        f"{peak}",
    )


def _closed(bot: Bot) -> Any:
    return Position.objects.filter(bot=bot, is_open=False, closed_at__isnull=False).order_by("-closed_at")


def _cooldown(bot: Bot, s: dict, per_user: dict, now: datetime) -> tuple[str, str, str] | None:
    minutes = int(s["cooldown_minutes"] or 0)
    if minutes <= 0:
        return None
    closed = (
        Position.objects.filter(
            user_id=bot.user_id, bot__isnull=False, is_open=False, closed_at__isnull=False
        ).order_by("-closed_at")
        if per_user.get("cooldown_minutes")
        else _closed(bot)
    )
    last = closed.values_list("closed_at", flat=True).first()
    if last is None or now >= last + timedelta(minutes=minutes):
        return None
    until = last + timedelta(minutes=minutes)
    return (
        "cooldown",
        f"Cooldown: {minutes} min after the last exit; no new entry until {until:%H:%M} UTC",
        last.isoformat(),
    )


def _pair_lock(bot: Bot, s: dict, now: datetime) -> tuple[str, str, str] | None:
    trips = int(s["pair_lock_trips"] or 0)
    if trips <= 0 or bot.initial_capital <= 0:
        return None
    rows = list(_closed(bot).filter(symbol=bot.symbol).values_list("closed_at", "realised_pnl")[:trips])
    if len(rows) < trips:
        return None
    latest = rows[0][0]
    until = latest + timedelta(minutes=int(s["pair_lock_minutes"]))
    if now >= until:
        return None
    profit_pct = sum((pnl for _, pnl in rows), Decimal("0")) / bot.initial_capital * HUNDRED
    floor = Decimal(str(s["pair_lock_min_profit_pct"]))
    if profit_pct >= floor:
        return None
    return (
        "pair_lock",
        f"Low-profit pair lock: {bot.symbol}'s last {trips} round trips made {profit_pct:.2f}% (below {floor}%); "
        f"locked until {until:%H:%M} UTC",
        latest.isoformat(),
    )


def check(bot: Bot, now: datetime | None = None) -> tuple[str, str, str] | None:
    """(protection name, reason, what this occurrence is anchored on) of the first protection in force, or None."""
    now = now or timezone.now()
    s, per_user = settings_for(bot)
    return (
        _stoploss_guard(bot, s, per_user, now)
        or _max_drawdown(bot, s)
        or _cooldown(bot, s, per_user, now)
        or _pair_lock(bot, s, now)
    )


def entry_block(bot: Bot, now: datetime | None = None) -> str:
    """Why ``bot`` may not open a position now because of a protection ("" when none is in force). The first time an
    occurrence is seen: one alert and one line in the bot's history."""
    found = check(bot, now)
    if found is None:
        return ""
    name, reason, anchor = found
    event = exits.record_event(bot, BotEventKind.PROTECTION, name, reason, key=f"protection:{name}:{anchor}")
    if event is not None:
        events.publish(
            bot.user_id,
            events.ALERT,
            {
                "level": "warning",
                "kind": "protection",
                "protection": name,
                "message": f"{bot.name}: {reason}",
                "bot_id": str(bot.id),
            },
        )
    return reason
