"""Risk limits that act: the owner's risk section (control app, stored by accounts.UserConfig) holds a daily loss
limit and a maximum exposure. Before a bot opens a position the engine asks ``entry_block(bot)``; when a limit is
reached the bot opens nothing (exits still run), the reason is stored on the bot (``Bot.risk_block``, shown by the API
and the portal) and the owner gets one alert per limit, quote currency and day.

Both figures are per quote currency (a BTC/ZAR bot counts ZAR), in that currency:
- today's realised loss: the sum of the user's trades' profit_loss since 00:00 UTC in that quote (an aggregate over
  today's trades only, on the (user, created_at) index), cached per user and quote until the next fill;
- exposure: what the user's open positions in that quote cost (entry price x amount), cached the same way.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.cache import cache as shared_cache
from django.db import transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.utils import timezone

from accounts.selectors import config_section
from amarktai import cache
from realtime import events
from trading.models import Position, Trade

ZERO = Decimal("0")
FIGURE_SECONDS = 60  # an upper bound: every fill of the user drops the cached figures at once
ALERT_SECONDS = 26 * 3600
_figures_version = "risk:v:{user_id}"


def _today() -> dt.datetime:
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def _version(user_id: Any) -> int:
    return int(cache.get(_figures_version.format(user_id=user_id)) or 0)


def _cached(user_id: Any, name: str, quote: str, compute: Any) -> Decimal:
    key = f"risk:{name}:{user_id}:{quote}:{_today().date()}:{_version(user_id)}"
    value = cache.get(key)
    if value is None:
        value = str(compute())
        cache.set(key, value, FIGURE_SECONDS)
    return Decimal(value)


def todays_realised(user_id: Any, quote: str) -> Decimal:
    """The user's realised P&L today (UTC) in ``quote`` (negative: a loss)."""
    return _cached(
        user_id,
        "pnl",
        quote,
        lambda: (
            Trade.objects.owned_by(user_id)
            .filter(created_at__gte=_today(), symbol__endswith=f"/{quote}")
            .aggregate(total=Sum("profit_loss"))["total"]
            or ZERO
        ),
    )


def exposure(user_id: Any, quote: str) -> Decimal:
    """What the user's open positions in ``quote`` cost."""
    cost = ExpressionWrapper(
        F("entry_price") * F("amount"), output_field=DecimalField(max_digits=40, decimal_places=12)
    )
    return _cached(
        user_id,
        "exposure",
        quote,
        lambda: (
            Position.objects.owned_by(user_id)
            .filter(is_open=True, symbol__endswith=f"/{quote}")
            .aggregate(total=Sum(cost))["total"]
            or ZERO
        ),
    )


def max_position_fraction(user_id: Any) -> Decimal:
    """The largest share of a bot's capital one position may take: the risk section's max_position_pct / 100 (1 when
    unset)."""
    raw = config_section(user_id, "risk").get("max_position_pct")
    if raw in (None, ""):
        return Decimal("1")
    return min(max(Decimal(str(raw)) / 100, ZERO), Decimal("1"))


def _limit(values: dict, name: str) -> Decimal | None:
    raw = values.get(name)
    if raw in (None, ""):
        return None
    limit = Decimal(str(raw))
    return limit if limit > 0 else None


def breached(user_id: Any, quote: str, values: dict | None = None) -> tuple[str, str] | None:
    """(limit name, reason) of the first of the user's risk limits reached in ``quote``, or None. ``values``: the
    user's risk section when the caller has it already."""
    values = config_section(user_id, "risk") if values is None else values
    loss_limit, max_exposure = _limit(values, "daily_loss_limit"), _limit(values, "max_exposure")
    if loss_limit is not None:
        loss = -todays_realised(user_id, quote)
        if loss >= loss_limit:
            return "daily_loss_limit", f"Daily loss limit reached: lost {loss:.2f} {quote} today (limit {loss_limit})"
    if max_exposure is not None:
        current = exposure(user_id, quote)
        if current >= max_exposure:
            return (
                "max_exposure",
                f"Maximum exposure reached: {current:.2f} {quote} in open positions (limit {max_exposure})",
            )
    return None


def _first_time(key: str) -> bool:
    try:
        return bool(shared_cache.add(key, 1, ALERT_SECONDS))
    except Exception:  # noqa: BLE001 - the cache is down: alert again rather than never
        return True


def entry_block(bot: Any, values: dict | None = None) -> str:
    """Why ``bot`` may not open a position now ("" when it may). Alerts the owner once per limit, quote and day.
    ``values``: the owner's risk section when the caller has it already (the engine's batched tick)."""
    quote = bot.symbol.split("/")[-1]
    found = breached(bot.user_id, quote, values)
    if found is None:
        return ""
    name, reason = found
    if _first_time(f"risk:alerted:{bot.user_id}:{name}:{quote}:{_today().date()}"):
        events.publish(
            bot.user_id,
            events.ALERT,
            {
                "level": "warning",
                "message": f"{reason}. Your bots open no new positions today.",
                "bot_id": str(bot.id),
                "kind": "risk_limit",  # notifications: the "risk limit hit" kind
            },
        )
    return reason


class RiskFillListener:
    """Drops the user's cached risk figures on every fill (trading.fills; registered by BotsConfig.ready())."""

    def before_fill(self, order: Any) -> None:
        return None

    def after_fill(self, trade: Any) -> None:
        key = _figures_version.format(user_id=trade.user_id)
        transaction.on_commit(lambda: cache.incr_or_set(key))


listener = RiskFillListener()
