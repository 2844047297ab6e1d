"""Smart exits: each open bot position has an exit plan (bots.models.ExitPlan) that the engine checks on every tick from
the latest price (the ticker's bid: what a market sell meets), before it asks the strategy.

The plan (made from the bot's EXIT_PARAMS when the engine first sees the position, editable per position through
PUT /api/positions/{id}/exits):
- targets: take profit in steps, [{"at_profit_pct", "pct_of_position"}] ascending; each sells that share of the position
  as it was when the plan started (never more than is open; the last target sells the rest when the shares reach 100);
- trailing_take_profit {"activate_at_pct", "callback_pct"}: armed once the profit reaches activate_at_pct, then sells
  everything when the price falls callback_pct from its high since entry;
- trailing_stop {"distance_pct"}: a stop distance_pct below the high since entry; it only ever moves up;
- breakeven_after_first_target: once the first target filled the stop is at least the entry price;
- time_stop_minutes: sells everything that many minutes after the position opened.

All of them are engine-side: neither the paper exchange nor the ccxt adapter places stop or OCO orders, so the engine
sells at market when a level is crossed (the order's and the history's reason say "engine-side"). At most one exit per
tick. Each exit's client order id is deterministic per (position, exit kind, target index): a retried tick places
nothing twice. The sale books its P&L through the normal fill path (trading.services.record_fill).
"""

import time
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from amarktai.utils import iso, money
from bots.models import Bot, BotEvent, BotEventKind, ExitPlan, TradingMode
from bots.strategies.base import EXIT_PARAMS
from realtime import events
from trading import services as trading
from trading.exchanges import source_for
from trading.models import Order, OrderStatus, Position
from trading.payloads import position_payload

STEP = Decimal("0.00000001")
ZERO = Decimal("0")
HUNDRED = Decimal("100")
SIDE = "engine-side"  # where exits run: the adapters place no stop/OCO orders (see the module docstring)
STOP_KINDS = ("stop_loss", "trailing_stop", "breakeven_stop")  # the exits the stop-loss guard counts
KIND_LABELS = {
    "take_profit": "take profit",
    "trailing_take_profit": "trailing take profit",
    "trailing_stop": "trailing stop",
    "breakeven_stop": "breakeven stop",
    "time_stop": "time stop",
}
TICKER_SECONDS = 2


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def empty_plan() -> dict:
    return {
        "targets": [],
        "trailing_take_profit": None,
        "trailing_stop": None,
        "breakeven_after_first_target": False,
        "time_stop_minutes": None,
    }


def plan_from_params(params: dict | None) -> dict:
    """The exit plan the bot's parameters (EXIT_PARAMS, 0 = off) describe."""
    p = {name: spec["default"] for name, spec in EXIT_PARAMS.items()}
    p.update({k: v for k, v in (params or {}).items() if k in EXIT_PARAMS})
    plan = empty_plan()
    for at, size in (("tp1_at_pct", "tp1_size_pct"), ("tp2_at_pct", "tp2_size_pct")):
        if p[at] and p[size]:
            plan["targets"].append({"at_profit_pct": float(p[at]), "pct_of_position": float(p[size])})
    plan["targets"].sort(key=lambda t: t["at_profit_pct"])
    if p["trailing_tp_activate_pct"] and p["trailing_tp_callback_pct"]:
        plan["trailing_take_profit"] = {
            "activate_at_pct": float(p["trailing_tp_activate_pct"]),
            "callback_pct": float(p["trailing_tp_callback_pct"]),
        }
    if p["trailing_stop_pct"]:
        plan["trailing_stop"] = {"distance_pct": float(p["trailing_stop_pct"])}
    plan["breakeven_after_first_target"] = bool(p["breakeven_after_tp1"])
    plan["time_stop_minutes"] = int(p["time_stop_minutes"]) or None
    return plan


def has_exits(plan: dict | None) -> bool:
    if not plan:
        return False
    return bool(
        plan.get("targets")
        or plan.get("trailing_take_profit")
        or plan.get("trailing_stop")
        or plan.get("time_stop_minutes")
    )


def manages_take_profit(plan: dict | None) -> bool:
    """Whether the plan takes profit itself (then the position's single take-profit price is not used)."""
    return bool(plan and (plan.get("targets") or plan.get("trailing_take_profit")))


def new_state(amount: Decimal, entry: Decimal) -> dict:
    return {
        "initial_amount": str(amount),
        "highest_price": str(entry),
        "trailing_stop_price": None,
        "trailing_tp_armed": False,
        "targets_filled": [],
        "fired": [],
    }


def evaluate(
    plan: dict, state: dict, *, entry: Decimal, open_amount: Decimal, price: Decimal, minutes_open: float
) -> tuple[dict, dict | None]:
    """One tick of the plan at ``price`` (pure). Returns the new state and the exit to place, if any:
    {"kind", "index", "amount", "reason"}; its amount is never more than ``open_amount``."""
    state = {**new_state(open_amount, entry), **state}
    initial = _d(state["initial_amount"])
    high = max(_d(state["highest_price"]), price)
    state["highest_price"] = str(high)
    profit_pct = (price / entry - 1) * HUNDRED if entry > 0 else ZERO
    filled = list(state["targets_filled"])
    stop, stop_kind = None, ""
    if plan.get("trailing_stop"):
        stop = (high * (1 - _d(plan["trailing_stop"]["distance_pct"]) / HUNDRED)).quantize(STEP)
        stop_kind = "trailing_stop"
    if plan.get("breakeven_after_first_target") and filled and (stop is None or entry >= stop):
        stop, stop_kind = entry, "breakeven_stop"
    state["trailing_stop_price"] = str(stop) if stop is not None else None
    ttp = plan.get("trailing_take_profit")
    if ttp and not state["trailing_tp_armed"] and profit_pct >= _d(ttp["activate_at_pct"]):
        state["trailing_tp_armed"] = True
    if open_amount <= 0:
        return state, None
    shown = f"{price.normalize():f}"
    action = None
    minutes = plan.get("time_stop_minutes")
    if minutes and minutes_open >= minutes:
        action = {"kind": "time_stop", "index": 0, "amount": open_amount, "reason": f"time stop after {minutes} min"}
    elif stop is not None and price <= stop:
        action = {
            "kind": stop_kind,
            "index": 0,
            "amount": open_amount,
            "reason": f"{KIND_LABELS[stop_kind]} at {stop.normalize():f} hit ({shown})",
        }
    elif ttp and state["trailing_tp_armed"] and price <= high * (1 - _d(ttp["callback_pct"]) / HUNDRED):
        action = {
            "kind": "trailing_take_profit",
            "index": 0,
            "amount": open_amount,
            "reason": f"trailing take profit: {shown} is {ttp['callback_pct']}% off the high {high.normalize():f}",
        }
    else:
        targets = plan.get("targets") or []
        for index, target in enumerate(targets):
            if index in filled:
                continue
            if profit_pct < _d(target["at_profit_pct"]):
                break
            share = _d(target["pct_of_position"])
            last = index == len(targets) - 1 and sum(_d(t["pct_of_position"]) for t in targets) >= HUNDRED
            amount = open_amount if last else (initial * share / HUNDRED).quantize(STEP, rounding=ROUND_DOWN)
            action = {
                "kind": "take_profit",
                "index": index,
                "amount": min(amount, open_amount),
                "reason": f"take profit {index + 1} of {len(targets)}: +{target['at_profit_pct']}% sells "
                f"{target['pct_of_position']}%",
            }
            break
    if action is not None:
        action["reason"] = f"{action['reason']} ({SIDE})"
    return state, action


def record_event(bot: Bot, kind: str, name: str, message: str, key: str, data: dict | None = None) -> BotEvent | None:
    """One line of the bot's history; None when the line with this key is already there (in its own savepoint, so
    a duplicate never spoils the caller's transaction)."""
    try:
        with transaction.atomic():
            return BotEvent.objects.create(
                user_id=bot.user_id, bot=bot, kind=kind, name=name, message=message[:255], key=key[:64], data=data or {}
            )
    except IntegrityError:
        return None


def latest_price(bot: Bot, exchange: Any) -> Decimal:
    """The bid of the bot's market, cached a couple of seconds per (source, exchange, symbol) so the bots of one
    market share one ticker."""
    key = f"exit-bid:{source_for(bot.trading_mode)}:{bot.exchange}:{bot.symbol}:{int(time.time() // TICKER_SECONDS)}"
    bid = cache.get(key)
    if bid is None:
        ticker = exchange.fetch_ticker(bot.symbol)
        bid = str(ticker.get("bid") or ticker.get("last"))
        cache.set(key, bid, TICKER_SECONDS * 2)
    return _d(bid)


def plan_for(bot: Bot, position: Position) -> ExitPlan | None:
    """The position's exit plan, made from the bot's parameters the first time (None: no exits set anywhere)."""
    found = ExitPlan.objects.filter(position=position).first()
    if found is not None:
        return found
    plan = plan_from_params(bot.params)
    if not has_exits(plan):
        return None
    return ExitPlan.objects.create(
        position=position, user_id=bot.user_id, plan=plan, state=new_state(position.amount, position.entry_price)
    )


def _working_sell(bot: Bot, position: Position) -> bool:
    return Order.objects.filter(
        bot=bot, symbol=position.symbol, side="sell", status=OrderStatus.OPEN, parent__isnull=True
    ).exists()


def run_exits(
    bot: Bot, position: Position, exchange: Any, now: datetime | None = None
) -> tuple[str, dict | None, bool]:
    """Check the exit plan of the bot's open position (the engine, bot row locked). Returns (what was sold and why,
    or "", the plan, whether an order was placed). While a sell of the position is still working nothing more is sold
    and the message says so (the engine then places no strategy order either)."""
    exit_plan = plan_for(bot, position)
    if exit_plan is None or not has_exits(exit_plan.plan):
        return "", exit_plan.plan if exit_plan else None, False
    now = now or timezone.now()
    price = latest_price(bot, exchange)
    minutes = (now - position.opened_at).total_seconds() / 60
    plan = exit_plan.plan
    state, action = evaluate(
        plan,
        exit_plan.state,
        entry=position.entry_price,
        open_amount=position.amount,
        price=price,
        minutes_open=minutes,
    )
    sold = ""
    if action is not None and _working_sell(bot, position):
        # A sell of this position (an exit on a live exchange that has not filled yet) is still working: sell nothing
        # more until it fills, so the sells never add up to more than the position.
        return (
            f"Waiting for the working sell of {bot.symbol} to fill before the {KIND_LABELS[action['kind']]}",
            plan,
            False,
        )
    if action is not None:
        cid = trading.client_order_id("exit", position.pk, action["kind"], action["index"])
        if not Order.objects.filter(client_order_id=cid).exists():
            amount = action["amount"].quantize(STEP, rounding=ROUND_DOWN)
            if amount > 0:
                trading.place_order(
                    bot.user,
                    exchange,
                    symbol=bot.symbol,
                    side="sell",
                    type="market",
                    amount=amount,
                    bot=bot,
                    cid=cid,
                    reason=action["reason"],
                    is_paper=bot.trading_mode == TradingMode.PAPER,
                )
                sold = f"Sold {amount.normalize():f} {bot.symbol}: {action['reason']}"
                record_event(
                    bot,
                    BotEventKind.EXIT,
                    action["kind"],
                    sold,
                    key=f"x:{position.pk}:{action['kind']}:{action['index']}",
                    data={"position_id": str(position.pk), "amount": str(amount), "price": str(price), "side": SIDE},
                )
        if action["kind"] == "take_profit" and action["index"] not in state["targets_filled"]:
            state["targets_filled"] = sorted([*state["targets_filled"], action["index"]])
        if action["kind"] not in state["fired"]:
            state["fired"] = [*state["fired"], action["kind"]]
    if state != exit_plan.state:
        exit_plan.state = state
        exit_plan.save(update_fields=["state", "updated_at"])
    if sold:
        position.refresh_from_db()
        events.publish(
            bot.user_id, events.POSITION_UPDATE, {"position": position_payload(position), "reason": action["reason"]}
        )
    return sold, exit_plan.plan, bool(sold)


def exits_payload(position: Position, exit_plan: ExitPlan | None) -> dict:
    """GET/PUT /api/positions/{id}/exits and the bot detail's ``exits``: the plan and its live state."""
    plan = exit_plan.plan if exit_plan else empty_plan()
    state = exit_plan.state if exit_plan else {}
    return {
        "position_id": str(position.pk),
        "bot_id": str(position.bot_id) if position.bot_id else None,
        "symbol": position.symbol,
        "is_open": position.is_open,
        "amount": money(position.amount),
        "entry_price": money(position.entry_price),
        "stop_loss": money(position.stop_loss),
        "take_profit": None if manages_take_profit(plan) else money(position.take_profit),
        "execution": SIDE,
        "plan": plan,
        "state": {
            "initial_amount": money(_d(state["initial_amount"]))
            if state.get("initial_amount")
            else money(position.amount),
            "highest_price": money(_d(state["highest_price"])) if state.get("highest_price") else None,
            "trailing_stop_price": money(_d(state["trailing_stop_price"]))
            if state.get("trailing_stop_price")
            else None,
            "trailing_take_profit_armed": bool(state.get("trailing_tp_armed")),
            "targets_filled": list(state.get("targets_filled") or []),
            "fired": list(state.get("fired") or []),
        },
        "updated_at": iso(exit_plan.updated_at) if exit_plan else None,
    }
