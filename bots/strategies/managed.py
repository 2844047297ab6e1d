"""Order-managing strategies (DCA and grid): plain Python, no Django, Decimal money.

An indicator strategy (bots.strategies.library) answers "buy or sell now?". These answer "which orders should exist
now?": a pure function of (params, the bot's persisted state, the orders it placed so far with their fills, the price)
-> (new state, the desired orders). Every desired order has a deterministic key (a tuple such as
``(deal, "so", 2)`` or ``(run, "L", level, side, cycle)``); the engine (bots.managed) derives the client order id from
(bot, key), places the desired orders that do not exist yet and cancels the bot's open orders that are no longer
desired, under the bot's row lock. Nothing lives only in memory: the state is a small JSON object on the bot, and
everything else (average entry, filled safety orders, resting grid orders) is rebuilt from the orders every tick.

Params are declared in ``PARAMS`` (JSON-Schema-like: type, minimum, maximum, enum, default, description) and checked by
``validate_params``, which returns field-level errors.
"""

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

ZERO = Decimal("0")
ONE = Decimal("1")


@dataclass(frozen=True)
class Desired:
    """An order that should exist. ``amount`` is in the base currency; ``price`` is None for a market order."""

    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    reason: str


@dataclass(frozen=True)
class Seen:
    """What the engine knows of an order placed under a key: its status and fill (from trading.Order)."""

    status: str  # open | closed | canceled | rejected
    amount: Decimal
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    at: float = 0.0  # last change, seconds since the epoch


def D(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


# --- params --------------------------------------------------------------------------------------------------------
def validate_params(schema: dict, required: tuple, params: dict) -> tuple[dict, dict]:
    """(clean params with defaults filled in, {field: [errors]}) for ``params`` against ``schema``."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    if not isinstance(params, dict):
        return {}, {"params": ["must be an object"]}
    for key in sorted(set(params) - set(schema)):
        errors[f"params.{key}"] = [f"unknown parameter; allowed: {', '.join(sorted(schema))}"]
    for key, spec in schema.items():
        if key not in params or params[key] is None:
            if key in required:
                errors[f"params.{key}"] = ["required"]
            elif "default" in spec:
                clean[key] = spec["default"]
            continue
        value = params[key]
        kind = spec["type"]
        if kind in ("number", "integer"):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or value != value
                or value
                in (
                    float("inf"),
                    float("-inf"),
                )
            ):
                errors[f"params.{key}"] = [f"must be a{'n integer' if kind == 'integer' else ' number'}"]
                continue
            if kind == "integer" and int(value) != value:
                errors[f"params.{key}"] = ["must be an integer"]
                continue
            if "minimum" in spec and value < spec["minimum"]:
                errors[f"params.{key}"] = [f"must be at least {spec['minimum']}"]
                continue
            if "exclusiveMinimum" in spec and value <= spec["exclusiveMinimum"]:
                errors[f"params.{key}"] = [f"must be greater than {spec['exclusiveMinimum']}"]
                continue
            if "maximum" in spec and value > spec["maximum"]:
                errors[f"params.{key}"] = [f"must be at most {spec['maximum']}"]
                continue
            clean[key] = int(value) if kind == "integer" else value
        elif kind == "boolean":
            if not isinstance(value, bool):
                errors[f"params.{key}"] = ["must be true or false"]
                continue
            clean[key] = value
        elif kind == "string":
            if not isinstance(value, str) or ("enum" in spec and value not in spec["enum"]):
                errors[f"params.{key}"] = [f"must be one of: {', '.join(spec.get('enum', []))}"]
                continue
            clean[key] = value
    return clean, errors


class ManagedStrategy:
    """Base of the order-managing strategies."""

    name = "managed"
    managed = True
    PARAMS: dict = {}
    REQUIRED: tuple = ()

    defaults: dict = {}  # from PARAMS, set for each subclass

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.defaults = {k: spec["default"] for k, spec in cls.PARAMS.items() if "default" in spec}

    def params(self, params: dict | None) -> dict:
        merged = dict(self.defaults)
        merged.update({k: v for k, v in (params or {}).items() if k in self.PARAMS})
        return merged

    def validate(self, params: dict | None, capital: Decimal | None = None) -> tuple[dict, dict]:
        clean, errors = validate_params(self.PARAMS, self.REQUIRED, params if params is not None else {})
        if not errors:
            errors.update(self.check(clean, capital))
        return clean, errors

    def check(self, p: dict, capital: Decimal | None) -> dict:  # cross-field rules
        return {}

    def capital_needed(self, p: dict) -> Decimal:
        raise NotImplementedError


# --- DCA -----------------------------------------------------------------------------------------------------------
class DCA(ManagedStrategy):
    """Dollar-cost averaging in deals. A deal opens with a market base order; a safety order (a resting limit buy)
    waits ``price_deviation`` below the base price, the next one a further ``price_deviation x step_multiplier^k``
    lower, each ``volume_multiplier`` times bigger than the last, at most ``max_safety_orders``. A limit take-profit
    sell of everything bought rests ``take_profit`` above the average entry (re-placed whenever a safety order fills).
    An optional ``stop_loss`` (fraction below the average entry, 0 = none) sells at market. When the deal closes, the
    next one starts after ``cooldown_seconds``.

    Keys: (deal, "base"), (deal, "so", k), (deal, "tp", safety orders filled), (deal, "sl").
    """

    name = "dca"
    title = "DCA (dollar-cost averaging)"
    description = (
        "Buys in deals: a base order at market, then bigger safety orders as the price falls, and sells everything "
        "at a take profit above the average entry."
    )
    REQUIRED = ("base_order", "safety_order")
    PARAMS = {
        "base_order": {"type": "number", "exclusiveMinimum": 0, "description": "Quote spent by the base order"},
        "safety_order": {"type": "number", "exclusiveMinimum": 0, "description": "Quote of the first safety order"},
        "max_safety_orders": {"type": "integer", "minimum": 0, "maximum": 25, "default": 5},
        "price_deviation": {
            "type": "number",
            "minimum": 0.001,
            "maximum": 0.5,
            "default": 0.01,
            "description": "Drop below the base price (fraction) that triggers the first safety order",
        },
        "step_multiplier": {"type": "number", "minimum": 1, "maximum": 5, "default": 1.0},
        "volume_multiplier": {"type": "number", "minimum": 1, "maximum": 5, "default": 1.5},
        "take_profit": {
            "type": "number",
            "minimum": 0.001,
            "maximum": 1,
            "default": 0.015,
            "description": "Rise above the average entry (fraction) at which the deal sells",
        },
        "stop_loss": {
            "type": "number",
            "minimum": 0,
            "maximum": 0.99,
            "default": 0,
            "description": "Drop below the average entry (fraction) that sells at market; 0 = no stop loss",
        },
        "cooldown_seconds": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 60},
    }

    def capital_needed(self, p: dict) -> Decimal:
        total = D(p["base_order"])
        for k in range(1, int(p["max_safety_orders"]) + 1):
            total += self.safety_quote(p, k)
        return total

    def check(self, p: dict, capital: Decimal | None) -> dict:
        errors = {}
        if int(p["max_safety_orders"]) and self.deviation(p, int(p["max_safety_orders"])) >= 1:
            errors["params.price_deviation"] = ["the last safety order would be at or below a price of 0"]
        if capital is not None and self.capital_needed(p) > capital:
            errors["initial_capital"] = [
                f"the base order and all safety orders need {self.capital_needed(p).normalize():f}; "
                f"the bot has {capital.normalize():f}"
            ]
        return errors

    @staticmethod
    def safety_quote(p: dict, k: int) -> Decimal:
        return D(p["safety_order"]) * D(p["volume_multiplier"]) ** (k - 1)

    @staticmethod
    def deviation(p: dict, k: int) -> Decimal:
        """Total drop below the base price of safety order k (1-based)."""
        step, mult = D(p["price_deviation"]), D(p["step_multiplier"])
        return sum((step * mult**j for j in range(k)), ZERO)

    def deal_view(self, p: dict, deal: int, orders: dict) -> dict:
        """Everything about deal ``deal`` from its orders (``orders``: key -> Seen)."""
        base = orders.get((deal, "base"))
        fills = []
        if base is not None and base.filled > 0:
            fills.append(("base", base))
        filled_so = 0
        for k in range(1, int(p["max_safety_orders"]) + 1):
            seen = orders.get((deal, "so", k))
            if seen is None or seen.filled <= 0:
                break
            fills.append((f"so{k}", seen))
            if seen.status == "closed":
                filled_so = k
        amount = sum((s.filled for _, s in fills), ZERO)
        cost = sum((s.filled * (s.average or ZERO) for _, s in fills), ZERO)
        average = cost / amount if amount else None
        base_price = base.average if base is not None and base.filled > 0 else None
        closing = None
        for key, seen in orders.items():
            if key[0] == deal and key[1] in ("tp", "sl") and seen.status == "closed" and seen.filled > 0:
                closing = (key, seen)
        next_trigger = None
        if base_price is not None and filled_so < int(p["max_safety_orders"]):
            next_trigger = base_price * (ONE - self.deviation(p, filled_so + 1))
        return {
            "deal": deal,
            "base_price": base_price,
            "amount": amount,
            "cost": cost,
            "average": average,
            "filled_safety_orders": filled_so,
            "next_safety_price": next_trigger,
            "next_safety_quote": self.safety_quote(p, filled_so + 1) if next_trigger is not None else None,
            "take_profit_price": average * (ONE + D(p["take_profit"])) if average else None,
            "stop_loss_price": average * (ONE - D(p["stop_loss"])) if average and D(p["stop_loss"]) > 0 else None,
            "closed": closing is not None,
            "closed_at": closing[1].at if closing else None,
            "close_reason": ("take profit" if closing[0][1] == "tp" else "stop loss") if closing else None,
        }

    def plan(self, p: dict, state: dict, orders: dict, price: Decimal, now: float, may_open: bool = True):
        """(new state, {key: Desired}, what happened). ``orders`` are the current deal's orders (key -> Seen)."""
        state = dict(state or {})
        deal = int(state.get("deal") or 0)
        view = self.deal_view(p, deal, orders) if deal else None
        if deal == 0 or (view["closed"] and now - (view["closed_at"] or 0) >= int(p["cooldown_seconds"])):
            if not may_open:
                return state, {}, "waiting: new deals are blocked"
            deal += 1
            state["deal"] = deal
            return (
                state,
                {(deal, "base"): Desired("buy", "market", D(p["base_order"]) / price, None, f"DCA deal {deal} base")},
                f"deal {deal} opened",
            )
        if view["closed"]:
            return state, {}, f"deal {deal} closed by {view['close_reason']}; cooldown"
        base = orders.get((deal, "base"))
        if view["amount"] <= 0:  # the base order has not filled yet (a live exchange can take a moment)
            return state, ({(deal, "base"): None} if base is not None else {}), f"deal {deal}: base order working"
        desired: dict = {}
        average = view["average"]
        stop = view["stop_loss_price"]
        if orders.get((deal, "sl")) is not None or (stop is not None and price <= stop):
            desired[(deal, "sl")] = Desired("sell", "market", view["amount"], None, f"DCA deal {deal} stop loss")
            return state, desired, f"deal {deal}: stop loss at {stop}"
        k = view["filled_safety_orders"]
        desired[(deal, "tp", k)] = Desired(
            "sell", "limit", view["amount"], view["take_profit_price"], f"DCA deal {deal} take profit (avg {average})"
        )
        if view["next_safety_price"] is not None:
            trigger = view["next_safety_price"]
            desired[(deal, "so", k + 1)] = Desired(
                "buy", "limit", view["next_safety_quote"] / trigger, trigger, f"DCA deal {deal} safety order {k + 1}"
            )
        return state, desired, f"deal {deal}: {k} safety order(s) filled, average {average:.8f}"


# --- grid ----------------------------------------------------------------------------------------------------------
class Grid(ManagedStrategy):
    """A grid of resting limit orders between ``lower_price`` and ``upper_price``: ``grids`` intervals, arithmetic
    (equal steps) or geometric (equal ratios). At start the bot buys at market the coins for the sell levels above the
    price, then rests a buy on every level below the price and a sell on every level above it (the level nearest the
    price stays empty). Each fill places the opposite order one level away; a sell filled one level above its buy
    completes a grid, whose profit is tracked. On range exit the grid ends: ``stop`` sells the coins at market, ``keep``
    keeps them; with ``trailing_up`` a price above the range moves the whole range up instead.

    State: {"run", "levels", "qty", "slots": {level: [side, cycle]}, "cycles", "profit", "completed", "ended"}.
    Keys: (run, "init") and (run, "L", level, side, cycle).
    """

    name = "grid"
    title = "Grid"
    description = (
        "Rests buy orders below the price and sell orders above it on levels between a lower and an upper price; "
        "each fill places the opposite order one level away."
    )
    REQUIRED = ("lower_price", "upper_price", "investment")
    PARAMS = {
        "lower_price": {"type": "number", "exclusiveMinimum": 0, "description": "Bottom of the range"},
        "upper_price": {"type": "number", "exclusiveMinimum": 0, "description": "Top of the range"},
        "grids": {"type": "integer", "minimum": 2, "maximum": 100, "default": 10},
        "spacing": {"type": "string", "enum": ["arithmetic", "geometric"], "default": "arithmetic"},
        "investment": {"type": "number", "exclusiveMinimum": 0, "description": "Quote the grid may use"},
        "on_range_exit": {"type": "string", "enum": ["stop", "keep"], "default": "keep"},
        "trailing_up": {"type": "boolean", "default": False},
    }

    def capital_needed(self, p: dict) -> Decimal:
        return D(p["investment"])

    def check(self, p: dict, capital: Decimal | None) -> dict:
        errors = {}
        if D(p["upper_price"]) <= D(p["lower_price"]):
            errors["params.upper_price"] = ["must be above lower_price"]
        if capital is not None and D(p["investment"]) > capital:
            errors["params.investment"] = [
                f"more than the bot's capital of {capital.normalize():f}; raise initial_capital or invest less"
            ]
        return errors

    @staticmethod
    def levels(p: dict, lower: Decimal | None = None, upper: Decimal | None = None) -> list[Decimal]:
        lo, hi, n = lower or D(p["lower_price"]), upper or D(p["upper_price"]), int(p["grids"])
        if p["spacing"] == "geometric":
            ratio = (hi / lo) ** (ONE / n)
            return [lo * ratio**i for i in range(n)] + [hi]
        step = (hi - lo) / n
        return [lo + step * i for i in range(n)] + [hi]

    def _start(self, p: dict, run: int, levels: list[Decimal], price: Decimal) -> tuple[dict, dict]:
        qty = D(p["investment"]) / (len(levels) - 1) / (sum(levels, ZERO) / len(levels))
        nearest = min(range(len(levels)), key=lambda i: abs(levels[i] - price))
        slots = {}
        for i, level in enumerate(levels):
            if i != nearest:
                slots[str(i)] = ["buy" if level < price else "sell", 0]
        sells = sum(1 for side, _ in slots.values() if side == "sell")
        state = {
            "run": run,
            "levels": [f"{level:f}" for level in levels],
            "qty": f"{qty:f}",
            "slots": slots,
            "cycles": {str(i): 0 for i in range(len(levels))},
            "init": sells > 0,
        }
        desired = {}
        if sells:
            desired[(run, "init")] = Desired("buy", "market", qty * sells, None, f"grid {run}: coins for {sells} sells")
        return state, desired

    def plan(self, p: dict, state: dict, orders: dict, price: Decimal, position_amount: Decimal = ZERO):
        """(new state, {key: Desired or None (keep as is)}, what happened); ``orders``: the run's orders by key."""
        state = {**(state or {})}
        profit, completed = D(state.get("profit", "0")), int(state.get("completed", 0))
        if state.get("ended"):
            return state, {}, f"grid ended at range exit ({state['ended']})"
        if not state.get("run"):
            new, desired = self._start(p, 1, self.levels(p), price)
            new.update(profit="0", completed=0, runs=1)
            return new, desired, "grid started"
        run = int(state["run"])
        levels = [D(x) for x in state["levels"]]
        qty = D(state["qty"])
        slots = {k: list(v) for k, v in state["slots"].items()}
        cycles = dict(state["cycles"])
        if state.get("init"):
            seen = orders.get((run, "init"))
            if seen is None or seen.status != "closed":
                return state, {(run, "init"): None} if seen is not None else {}, "grid: buying its coins"
            state["init"] = False
        # Fills: each filled order moves its level's slot one level away, on the opposite side.
        events = []
        for level in sorted(slots, key=int):
            side, cycle = slots.get(level, [None, None])
            if side is None:
                continue
            seen = orders.get((run, "L", int(level), side, cycle))
            if seen is None:
                continue
            i = int(level)
            if seen.status == "closed" and seen.filled > 0:
                del slots[level]
                target = i + 1 if side == "buy" else i - 1
                if 0 <= target < len(levels) and str(target) not in slots:
                    cycles[str(target)] = int(cycles.get(str(target), 0)) + 1
                    slots[str(target)] = ["sell" if side == "buy" else "buy", cycles[str(target)]]
                if side == "sell":
                    gross = seen.filled * (levels[i] - levels[i - 1])
                    buy_fee = seen.fee * levels[i - 1] / levels[i]  # the buy paid the same rate on its own price
                    profit += gross - seen.fee - buy_fee
                    completed += 1
                    events.append(f"grid completed at level {i}")
            elif seen.status in ("canceled", "rejected"):  # gone from the exchange without us: place it again
                cycles[level] = int(cycles.get(level, 0)) + 1
                slots[level] = [side, cycles[level]]
        state.update(slots=slots, cycles=cycles, profit=f"{profit:f}", completed=completed)
        lower, upper = levels[0], levels[-1]
        if price > upper and p.get("trailing_up"):
            # Move the range up by whole steps so the price is inside again; the old run's orders are cancelled.
            if p["spacing"] == "geometric":
                ratio = levels[1] / levels[0]
                steps = int(((price / upper).ln() / ratio.ln()).to_integral_value(rounding=ROUND_CEILING))
                new_lower, new_upper = lower * ratio**steps, upper * ratio**steps
            else:
                step = levels[1] - levels[0]
                steps = int(((price - upper) / step).to_integral_value(rounding=ROUND_CEILING))
                new_lower, new_upper = lower + step * steps, upper + step * steps
            new, desired = self._start(p, run + 1, self.levels(p, new_lower, new_upper), price)
            new.update(profit=f"{profit:f}", completed=completed, runs=int(state.get("runs", 1)) + 1)
            return new, desired, f"range trailed up to {new_lower:.8f}-{new_upper:.8f}"
        if price > upper or price < lower:
            state["ended"] = p["on_range_exit"]
            desired = {}
            if p["on_range_exit"] == "stop" and position_amount > 0:
                desired[(run, "exit")] = Desired("sell", "market", position_amount, None, "grid range exit: sell")
            return state, desired, f"price {price} left the range {lower:.8f}-{upper:.8f}: grid ended"
        desired = {
            (run, "L", int(level), side, cycle): Desired(
                side, "limit", qty, levels[int(level)], f"grid level {level} {side}"
            )
            for level, (side, cycle) in slots.items()
        }
        return state, desired, "; ".join(events) or f"grid: {len(slots)} orders resting"


MANAGED = {cls.name: cls for cls in (DCA, Grid)}
