"""The user's kill switch: stop all of their trading with one call, start it again with another.

``stop_trading(user, close_positions=False)``
    pauses every active (or created) bot of the user, marking it ``pause_origin="kill_switch"``; cancels every open
    order of the user (bot orders and manual ones); with ``close_positions`` also sells every open position, a bot's or
    the user's own, at market (bots.services.close_position_by_id: the manual exit's one path).
    The switch stays "stopped" until ``start_trading``.
``start_trading(user)``
    resumes the bots the stop paused, and only those: a bot the user or an admin paused (before or after the stop) keeps
    its pause (bots.services.pause_bot and the admin pause clear the mark).

Both are idempotent: a second stop finds nothing more to pause or cancel (it still pauses a bot created meanwhile and
cancels an order placed meanwhile), a second start finds nothing to resume. Each call writes an AuditLog row
("trading.stop" / "trading.start") and publishes a trading_status event with what it did. Exchange failures while
cancelling or closing are reported per order/position in ``errors`` and never undo the pauses: the bots stay paused.
Callable from anywhere above bots (the API in control, the assistant, a Telegram command).
"""

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.admin_api import audit
from accounts.services import LIVE_MODES
from amarktai.errors import AmarktaiError
from amarktai.utils import iso
from bots.models import Bot, BotStatus, TradingMode, TradingSwitch
from bots.services import KILL_SWITCH, close_position_by_id, set_status
from realtime import events
from trading import services as trading
from trading.exchanges import get_exchange
from trading.models import Order, OrderStatus, Position

logger = logging.getLogger(__name__)
RUNNING, STOPPED = "running", "stopped"


def _switch(user: Any, lock: bool = False) -> TradingSwitch:
    switch, _ = TradingSwitch.objects.get_or_create(user=user)
    if lock:
        switch = TradingSwitch.objects.select_for_update().get(pk=switch.pk)
    return switch


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, AmarktaiError) else f"{exc.__class__.__name__}: {exc}"


def _cancel_open_orders(user: Any, errors: list[dict]) -> list[str]:
    canceled = []
    for order in (
        Order.objects.owned_by(user).filter(status=OrderStatus.OPEN, parent__isnull=True).order_by("created_at")
    ):
        try:
            exchange = get_exchange(
                user, order.exchange, "paper" if order.is_paper else "live", credential=order.account
            )
            trading.cancel_order(order, exchange)
            canceled.append(str(order.pk))
        except Exception as exc:
            logger.warning("kill switch: could not cancel order %s", order.pk, exc_info=True)
            errors.append({"order_id": str(order.pk), "error": _message(exc)})
    return canceled


def _close_positions(user: Any, errors: list[dict]) -> list[str]:
    closed = []
    for position in Position.objects.owned_by(user).filter(is_open=True).order_by("opened_at"):
        try:
            close_position_by_id(user, position.pk, reason="trading stopped (kill switch)")
            closed.append(str(position.pk))
        except Exception as exc:
            logger.warning("kill switch: could not close position %s", position.pk, exc_info=True)
            errors.append({"position_id": str(position.pk), "bot_id": str(position.bot_id), "error": _message(exc)})
    return closed


def stop_trading(user: Any, close_positions: bool = False, actor: Any = None) -> dict:
    """Pause all the user's bots, cancel their open orders (and close their positions at market when asked). Returns
    {"status", "already_stopped", "paused_bots", "canceled_orders", "closed_positions", "errors", ...}."""
    with transaction.atomic():
        switch = _switch(user, lock=True)
        already = switch.stopped
        paused = []
        for bot in (
            Bot.objects.owned_by(user).select_for_update().filter(status__in=(BotStatus.ACTIVE, BotStatus.CREATED))
        ):
            set_status(bot, BotStatus.PAUSED, origin=KILL_SWITCH)
            paused.append(str(bot.pk))
        switch.stopped = True
        switch.close_positions = close_positions
        if not already:
            switch.stopped_at = timezone.now()
        switch.save()
    errors: list[dict] = []
    canceled = _cancel_open_orders(user, errors)
    closed = _close_positions(user, errors) if close_positions else []
    result = {
        **status(user),
        "already_stopped": already,
        "paused_bots": paused,
        "canceled_orders": canceled,
        "closed_positions": closed,
        "errors": errors,
    }
    _record(user, actor, "trading.stop", {**result, "close_positions": close_positions})
    return result


def start_trading(user: Any, actor: Any = None) -> dict:
    """Resume the bots the stop paused (only those). Returns {"status", "already_running", "resumed_bots", ...}."""
    with transaction.atomic():
        switch = _switch(user, lock=True)
        already = not switch.stopped
        resumed, skipped = [], []
        for bot in (
            Bot.objects.owned_by(user).select_for_update().filter(status=BotStatus.PAUSED, pause_origin=KILL_SWITCH)
        ):
            if bot.trading_mode == TradingMode.LIVE and user.system_mode not in LIVE_MODES:
                skipped.append({"bot_id": str(bot.pk), "error": "live trading is off: switch the system mode first"})
                continue
            set_status(bot, BotStatus.ACTIVE)
            resumed.append(str(bot.pk))
        switch.stopped = False
        switch.started_at = timezone.now()
        switch.save()
    result = {**status(user), "already_running": already, "resumed_bots": resumed, "errors": skipped}
    _record(user, actor, "trading.start", result)
    return result


def _record(user: Any, actor: Any, action: str, result: dict) -> None:
    with transaction.atomic():
        details = {k: v for k, v in result.items() if k != "system"}
        if actor is not None and actor.pk != user.pk:
            details["owner_id"] = str(user.pk)
        audit(actor or user, action, "user", user.pk, details)
        events.publish(
            user.pk,
            events.TRADING_STATUS,
            {
                "status": result["status"],
                "close_positions": bool(result.get("close_positions", False)),
                "paused_bots": result.get("paused_bots", []),
                "resumed_bots": result.get("resumed_bots", []),
                "canceled_orders": result.get("canceled_orders", []),
                "closed_positions": result.get("closed_positions", []),
                "errors": result.get("errors", []),
            },
        )


def status(user: Any) -> dict:
    """The user's trading state: {"status": "running"|"stopped", "stopped_at", "started_at", "close_positions",
    "paused_by_stop", "active_bots"}."""
    switch = TradingSwitch.objects.owned_by(user).first()
    bots = Bot.objects.owned_by(user)
    return {
        "status": STOPPED if switch is not None and switch.stopped else RUNNING,
        "stopped_at": iso(switch.stopped_at) if switch else None,
        "started_at": iso(switch.started_at) if switch else None,
        "close_positions": bool(switch and switch.close_positions),
        "paused_by_stop": bots.filter(status=BotStatus.PAUSED, pause_origin=KILL_SWITCH).count(),
        "active_bots": bots.filter(status__in=(BotStatus.ACTIVE, BotStatus.CREATED)).count(),
    }
