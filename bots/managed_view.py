"""Reading an order-managing bot (DCA, grid): which orders its keys name, what they did, and the state the API shows.

Client order ids are derived from (bot, key) (``key_cid``), so the orders of a deal or a grid run are found by
computing their ids: nothing is remembered in memory, and a restarted worker finds exactly the orders placed before.
"""

from decimal import Decimal
from typing import Any

from amarktai.utils import money
from bots.models import Bot
from bots.strategies.managed import DCA, MANAGED, Grid, Seen
from trading import services as trading
from trading.models import Order


def is_managed(strategy: str) -> bool:
    return strategy in MANAGED


def key_cid(bot_id: Any, key: tuple) -> str:
    return trading.client_order_id(bot_id, "managed", *key)


def candidate_keys(bot: Bot, params: dict) -> list[tuple]:
    """Every key the current deal / grid run can have: the orders the strategy needs to see."""
    state = bot.managed_state or {}
    if bot.strategy == DCA.name:
        deal = int(state.get("deal") or 0)
        if not deal:
            return []
        n = int(params["max_safety_orders"])
        return (
            [(deal, "base"), (deal, "sl")]
            + [(deal, "so", k) for k in range(1, n + 1)]
            + [(deal, "tp", k) for k in range(n + 1)]
        )
    run = int(state.get("run") or 0)
    if not run:
        return []
    keys: list[tuple] = [(run, "init"), (run, "exit")]
    keys += [(run, "L", int(level), side, int(cycle)) for level, (side, cycle) in (state.get("slots") or {}).items()]
    return keys


def seen_orders(bot: Bot, keys: list[tuple]) -> tuple[dict, dict]:
    """({key: Seen}, {key: Order}) of the keys' orders that exist."""
    if not keys:
        return {}, {}
    by_cid = {key_cid(bot.pk, key): key for key in keys}
    orders = {by_cid[o.client_order_id]: o for o in Order.objects.filter(client_order_id__in=list(by_cid), bot=bot)}
    seen = {
        key: Seen(o.status, o.amount, o.filled, o.average, o.fee, o.updated_at.timestamp()) for key, o in orders.items()
    }
    return seen, orders


def _num(value: Decimal | None, places: int = 8) -> str | None:
    return money(value, places) if value is not None else None


def managed_payload(bot: Bot) -> dict | None:
    """The strategy's state for GET /api/bots/{id} (None for indicator bots).

    DCA: {"kind": "dca", "deal", "average_price", "amount", "filled_safety_orders", "max_safety_orders",
    "next_safety_price", "take_profit_price", "stop_loss_price", "status" (waiting|buying|open|cooldown),
    "ladder": [{"step", "trigger_price", "quote", "amount", "status", "fill_price"}]}.
    Grid: {"kind": "grid", "run", "lower_price", "upper_price", "per_grid_amount", "completed_grids", "grid_profit",
    "range_state" (waiting|buying|in_range|ended_stop|ended_keep), "levels": [{"level", "price", "side", "status"}]}.
    """
    if not is_managed(bot.strategy):
        return None
    strategy = MANAGED[bot.strategy]()
    p = strategy.params(bot.params)
    state = bot.managed_state or {}
    seen, orders = seen_orders(bot, candidate_keys(bot, p))
    if isinstance(strategy, DCA):
        deal = int(state.get("deal") or 0)
        if not deal:
            return {
                "kind": "dca",
                "deal": 0,
                "status": "waiting",
                "ladder": [],
                "max_safety_orders": p["max_safety_orders"],
            }
        view = strategy.deal_view(p, deal, seen)
        ladder = []
        base = seen.get((deal, "base"))
        ladder.append(
            {
                "step": "base",
                "trigger_price": None,
                "quote": _num(Decimal(str(p["base_order"]))),
                "amount": _num(base.filled if base else None),
                "status": base.status if base else "pending",
                "fill_price": _num(base.average if base else None),
            }
        )
        for k in range(1, int(p["max_safety_orders"]) + 1):
            so = seen.get((deal, "so", k))
            trigger = view["base_price"] * (1 - strategy.deviation(p, k)) if view["base_price"] else None
            ladder.append(
                {
                    "step": f"safety {k}",
                    "trigger_price": _num(trigger),
                    "quote": _num(strategy.safety_quote(p, k)),
                    "amount": _num(so.filled if so and so.filled else (so.amount if so else None)),
                    "status": so.status if so else "pending",
                    "fill_price": _num(so.average if so else None),
                }
            )
        status = "cooldown" if view["closed"] else "open" if view["amount"] > 0 else "buying"
        return {
            "kind": "dca",
            "deal": deal,
            "status": status,
            "close_reason": view["close_reason"],
            "average_price": _num(view["average"]),
            "amount": _num(view["amount"]),
            "filled_safety_orders": view["filled_safety_orders"],
            "max_safety_orders": p["max_safety_orders"],
            "next_safety_price": _num(view["next_safety_price"]),
            "take_profit_price": _num(view["take_profit_price"]),
            "stop_loss_price": _num(view["stop_loss_price"]),
            "ladder": ladder,
        }
    assert isinstance(strategy, Grid)
    run = int(state.get("run") or 0)
    levels = [Decimal(x) for x in state.get("levels") or []]
    slots = state.get("slots") or {}
    rows = []
    for i, price in enumerate(levels):
        slot = slots.get(str(i))
        order = orders.get((run, "L", i, slot[0], int(slot[1]))) if slot else None
        rows.append(
            {
                "level": i,
                "price": _num(price),
                "side": slot[0] if slot else None,
                "status": order.status if order else ("waiting" if slot else "empty"),
                "order_id": str(order.id) if order else None,
            }
        )
    ended = state.get("ended")
    range_state = f"ended_{ended}" if ended else "waiting" if not run else "buying" if state.get("init") else "in_range"
    return {
        "kind": "grid",
        "run": run,
        "lower_price": _num(levels[0]) if levels else None,
        "upper_price": _num(levels[-1]) if levels else None,
        "per_grid_amount": state.get("qty"),
        "completed_grids": int(state.get("completed") or 0),
        "grid_profit": _num(Decimal(state.get("profit") or "0")),
        "range_state": range_state,
        "levels": list(reversed(rows)),  # highest price first, as an order book reads
    }
