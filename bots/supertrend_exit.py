"""The Supertrend exit service: a position (any account's; a bot's or the user's own, paper or live) can be given a
Supertrend trailing exit (ATR period, multiplier, candle timeframe) through PUT /api/positions/{id}/supertrend-exit.

``check_supertrend_exits`` runs every SUPERTREND_EXIT_SECONDS (beat; the embedded scheduler without Redis). It fetches
the candles of each (market data source, exchange, symbol, timeframe) once for all the exits that watch it, keeps the
closed candles only, and for each exit whose last closed candle is new computes Supertrend(period, multiplier) with the
strategies' own maths (bots.strategies.supertrend, the ``supertrend`` strategy's). The first candle it evaluates only
records the trend. When the trend was up on the previous candle it evaluated and is down on the new one (a flip), the
whole position is sold at market through the one path every close takes (bots.services.close_position_by_id: a bot's
position books the bot's P&L, the sale's client order id is deterministic, a position is never sold twice). A trend
that is down when the exit is set waits for the next flip down (after an up trend): the exit trails, it is not a
"sell now". A sale that could not be placed (exchange down) is retried on the next run; a sale already working is
left to fill.

Groups: a bot that trades an account group holds one open position per account of the group (one per bot and
account, trading.Position's constraint). A flip of the exit set on any of them closes every one of them, each on its
own account (``group_positions``), one failing never stopping the others. A manual position stands alone: it is
closed on its own account (a manual group order's positions are not tied together yet: see the README).

Engine-side: nothing rests on the exchange; the sale's ``reason`` says "Supertrend(10, 3) flipped down at ...
(engine-side)". Every change is published as ``position_update`` (reason "supertrend_exit"); the sale as usual
(order_update, trade_executed).
"""

import logging
import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.services import LIVE_MODES
from amarktai.errors import Conflict, PositionClosed
from amarktai.utils import iso, money
from bots.models import SupertrendExit
from bots.services import close_position_by_id
from bots.strategies import supertrend
from bots.strategies.base import as_array
from realtime import events
from trading.exchanges import market_data, source_for
from trading.exchanges.simfeed import TIMEFRAMES
from trading.models import Order, OrderStatus, Position
from trading.payloads import position_payload
from trading.selectors import access_position, position_is_paper

logger = logging.getLogger(__name__)
DEFAULT_TIMEFRAME = "1h"
SIDE = "engine-side"
EXTRA_CANDLES = 100  # beyond the period: Wilder's ATR settles over them


# --- the maths on candles (pure) -----------------------------------------------------------------------------------
def closed_candles(rows: list, timeframe: str, now_ms: int) -> list:
    """The candles of ``rows`` that have closed by ``now_ms`` (an exchange's last candle is usually still forming)."""
    step = TIMEFRAMES[timeframe] * 60_000
    return [row for row in rows if int(row[0]) + step <= now_ms]


def latest_trend(rows: list, period: int, multiplier: float) -> tuple[int, int, float] | None:
    """(the last candle's open time in ms, its trend: 1 up / -1 down, the Supertrend line) over closed candles
    ``rows``; None while there are too few candles for the period."""
    if len(rows) < period + 1:
        return None
    data = as_array(rows)
    line, trend = supertrend(data, int(period), float(multiplier))
    if np.isnan(trend[-1]):
        return None
    return int(rows[-1][0]), int(trend[-1]), float(line[-1])


def flipped_down(previous_trend: int | None, trend: int) -> bool:
    """A long position's Supertrend exit fires when the trend turns from up to down."""
    return previous_trend == 1 and trend == -1


# --- setting and clearing (the API) ----------------------------------------------------------------------------------
def default_timeframe(position: Position) -> str:
    """A bot's position: the bot's candles; the user's own: DEFAULT_TIMEFRAME."""
    return position.bot.timeframe if position.bot_id and position.bot else DEFAULT_TIMEFRAME


def supertrend_exit_of(user: Any, position_id: Any) -> tuple[Position, SupertrendExit | None]:
    """One of the user's positions and its Supertrend exit (None: none set). NotFound for another user's."""
    position = access_position(user, position_id)
    return position, SupertrendExit.objects.owned_by(user).filter(position=position).first()


def set_supertrend_exit(
    user: Any, position_id: Any, *, period: int, multiplier: Decimal, timeframe: str | None = None
) -> tuple[Position, SupertrendExit]:
    """Give one of the user's open positions a Supertrend exit, or change it (arguments checked by
    SupertrendExitSerializer). A change starts watching afresh (the next closed candle records the trend).
    PositionClosed (409) for a closed position, NotFound for another user's."""
    position = access_position(user, position_id)
    with transaction.atomic():
        position = access_position(user, position.pk, lock=True)
        if not position.is_open:
            raise PositionClosed("This position is already closed")
        row = SupertrendExit.objects.owned_by(user).select_for_update().filter(position=position).first()
        if row is None:
            row = SupertrendExit(position=position, user=user)
        timeframe = timeframe or row.timeframe or default_timeframe(position)
        if (row.period, row.multiplier, row.timeframe) != (period, multiplier, timeframe):
            row.last_candle_ts = row.last_trend = row.last_line = None
        row.period, row.multiplier, row.timeframe = period, multiplier, timeframe
        row.triggered_at, row.reason, row.close_order, row.last_error = None, "", None, ""
        row.save()
        _publish(position)
    return position, row


def clear_supertrend_exit(user: Any, position_id: Any) -> Position:
    """Remove the Supertrend exit of one of the user's positions (nothing to remove is fine: idempotent)."""
    position = access_position(user, position_id)
    with transaction.atomic():
        deleted, _ = SupertrendExit.objects.owned_by(user).filter(position=position).delete()
        if deleted:
            _publish(position)
    return position


def _publish(position: Position) -> None:
    events.publish(
        position.user_id, events.POSITION_UPDATE, {"position": position_payload(position), "reason": "supertrend_exit"}
    )


def status_of(position: Position, row: SupertrendExit) -> str:
    if not position.is_open:
        return "closed"
    if row.triggered_at is not None:
        return "triggered"
    return "watching" if row.last_trend is not None else "waiting"


def payload(position: Position, row: SupertrendExit | None) -> dict | None:
    """GET/PUT /api/positions/{id}/supertrend-exit: the exit and what it saw last (None: none set)."""
    if row is None:
        return None
    trend = {1: "up", -1: "down"}.get(row.last_trend) if row.last_trend is not None else None
    return {
        "position_id": str(position.pk),
        "bot_id": str(position.bot_id) if position.bot_id else None,
        "account_id": str(position.account_id) if position.account_id else None,
        "exchange": position.exchange,
        "symbol": position.symbol,
        "is_open": position.is_open,
        "period": row.period,
        "multiplier": float(row.multiplier),
        "timeframe": row.timeframe,
        "status": status_of(position, row),
        "trend": trend,
        "line": money(row.last_line),
        "last_candle_at": iso(datetime.fromtimestamp(row.last_candle_ts / 1000, tz=UTC))
        if row.last_candle_ts is not None
        else None,
        "triggered_at": iso(row.triggered_at),
        "reason": row.reason or None,
        "close_order_id": str(row.close_order_id) if row.close_order_id else None,
        "last_error": row.last_error or None,
        "execution": SIDE,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


# --- the service (beat) ---------------------------------------------------------------------------------------------
def trading_mode(position: Position) -> str:
    """ "paper" or "live": the bot's mode, else the account's, else the order that opened it, else the user's."""
    if position.bot_id and position.bot:
        return str(position.bot.trading_mode)
    account = position.account if position.account_id else None
    if account is not None and getattr(account, "trading_mode", ""):
        return str(account.trading_mode)
    paper = position_is_paper(position)
    if paper is None:
        return "live" if position.user.system_mode in LIVE_MODES else "paper"
    return "paper" if paper else "live"


def group_positions(position: Position) -> list[Position]:
    """The other open positions a flip closes with ``position``: a bot's open positions of the same market on its
    other accounts (a bot trading an account group holds one per account); none for a manual position."""
    if not position.bot_id:
        return []
    return list(
        Position.objects.filter(user_id=position.user_id, bot_id=position.bot_id, symbol=position.symbol, is_open=True)
        .exclude(pk=position.pk)
        .order_by("opened_at")
    )


def close_positions(row: SupertrendExit, reason: str) -> tuple[Order | None, str]:
    """Sell the bot's positions on the group's other accounts (group_positions), then the exit's own position at
    market (the one close path). Returns the closing order of the exit's own position (None when it was closed
    meanwhile) and what failed on the other accounts ("" if nothing); raises what closing its own raised."""
    user = row.position.user
    errors = []
    for sibling in group_positions(row.position):
        try:
            close_position_by_id(user, sibling.pk, reason=reason)
        except (PositionClosed, Conflict):
            continue  # closed meanwhile, or a sale of it is working
        except Exception as exc:  # noqa: BLE001 - one account's failure never stops the others
            logger.warning("supertrend exit: closing group position %s failed: %s", sibling.pk, exc)
            errors.append(f"account {sibling.account_id}: {str(exc)[:80]}")
    failed = ("group: " + "; ".join(errors))[:255] if errors else ""
    try:
        order, _ = close_position_by_id(user, row.position_id, reason=reason)
    except PositionClosed:
        return None, failed
    return order, failed


def _market_rows(source: str, exchange: str, symbol: str, timeframe: str, limit: int) -> list:
    return market_data(exchange, source).fetch_ohlcv(symbol, timeframe, limit)


def check_supertrend_exits(now_ms: int | None = None) -> int:
    """One run over every Supertrend exit of an open position (see the module docstring). Returns how many positions
    it sold. One market's failure (its candles cannot be had) is recorded on its exits and never stops the others."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    rows = list(
        SupertrendExit.objects.filter(position__is_open=True).select_related(
            "position", "position__bot", "position__user", "position__account", "close_order"
        )
    )
    markets: dict[tuple[str, str, str, str], list[SupertrendExit]] = defaultdict(list)
    sold = 0
    for row in rows:
        if row.triggered_at is not None:
            sold += _retry_close(row)
            continue
        source = source_for(trading_mode(row.position))
        markets[(source, row.position.exchange, row.position.symbol, row.timeframe)].append(row)
    for (source, exchange, symbol, timeframe), watching in markets.items():
        limit = max(row.period for row in watching) + EXTRA_CANDLES
        try:
            candles = closed_candles(_market_rows(source, exchange, symbol, timeframe, limit), timeframe, now_ms)
        except Exception as exc:  # noqa: BLE001 - one market's failure is recorded on its exits, the others go on
            logger.warning("supertrend exits: no %s candles of %s %s: %s", timeframe, exchange, symbol, exc)
            SupertrendExit.objects.filter(pk__in=[r.pk for r in watching]).update(
                last_error=f"no candles: {str(exc)[:200]}"
            )
            continue
        for row in watching:
            try:
                sold += _on_candle(row, candles)
            except Exception as exc:
                logger.warning("supertrend exit of position %s failed: %s", row.position_id, exc, exc_info=True)
                SupertrendExit.objects.filter(pk=row.pk).update(last_error=str(exc)[:255])
    return sold


def _on_candle(row: SupertrendExit, candles: list) -> int:
    seen = latest_trend(candles, row.period, float(row.multiplier))
    if seen is None:
        return 0
    candle_ts, trend, line = seen
    with transaction.atomic():
        locked = SupertrendExit.objects.select_for_update().filter(pk=row.pk).first()
        if locked is None or locked.triggered_at is not None:
            return 0  # cleared, or another worker saw the flip
        if locked.last_candle_ts is not None and candle_ts <= locked.last_candle_ts:
            return 0  # no new candle since the last evaluation (here or in another worker)
        previous = locked.last_trend
        locked.last_candle_ts, locked.last_trend, locked.last_line = candle_ts, trend, Decimal(str(round(line, 8)))
        locked.last_error = ""
        if not flipped_down(previous, trend):
            locked.save(update_fields=["last_candle_ts", "last_trend", "last_line", "last_error", "updated_at"])
            if previous != trend:
                _publish(row.position)
            return 0
        locked.triggered_at = timezone.now()
        locked.reason = (
            f"Supertrend({locked.period}, {locked.multiplier.normalize():f}) on {locked.timeframe} flipped down "
            f"at {line:.8g} ({SIDE})"
        )
        locked.save()
    locked.position = row.position
    return _retry_close(locked)


def _retry_close(row: SupertrendExit) -> int:
    """Place the sale of a triggered exit (again, when the last attempt failed). 1 when an order was placed."""
    if row.close_order_id is not None and row.close_order.status not in (OrderStatus.CANCELED, OrderStatus.REJECTED):
        return 0  # placed and working or filled: it fills as any sale does
    try:
        order, failed = close_positions(row, row.reason)
    except Conflict as exc:  # a sale of it is working already (placed by hand or by another path): let it fill
        SupertrendExit.objects.filter(pk=row.pk).update(last_error=str(exc)[:255])
        return 0
    except Exception as exc:  # noqa: BLE001 - e.g. the exchange is down: the next run tries again
        logger.warning("supertrend exit of position %s: sale failed: %s", row.position_id, exc)
        SupertrendExit.objects.filter(pk=row.pk).update(last_error=f"sale failed: {str(exc)[:200]}")
        return 0
    SupertrendExit.objects.filter(pk=row.pk).update(close_order=order, last_error=failed)
    return 1 if order is not None else 0
