"""Strategy parameters declared once, in one structured form, and everything derived from it.

A strategy class declares ``PARAMS = {"fast": {"type": "integer", "minimum": 2, "maximum": 98, "default": 5,
"title": ..., "description": ...}, ...}`` ("type" is "integer" or "number"; "default" is optional). From that:

- ``json_schema(cls)``: the JSON Schema object GET /api/strategies serves (the portal and mobile clients build their
  forms from it); every property has a ``title``;
- ``defaults_of(cls)``: the values a bot trades with when its own params leave a field out;
- ``validate(cls, params)``: the server-side check of a bot's params on create/update, with field-level errors keyed
  ``params.<name>`` (the contract's ``details``).

Every strategy also accepts ``position_pct`` (COMMON): the share of the bot's capital one position uses (otherwise its
risk mode's), and the exit and protection params every bot has (bots.strategies.base.BOT_PARAMS: bots.exits,
bots.protections). Those carry ``"x-group": "exits"`` or ``"protections"`` in the schema (an extension keyword that
JSON Schema validators ignore) so a form can fold them away. DCA and grid (bots.strategies.managed) declare their own
PARAMS (also "boolean", and "string" with "enum"; ``REQUIRED`` names the params without a default that a bot must
give, the schema's ``required``) and check them with their capital rules; their schema is theirs alone. A strategy
without PARAMS (only ``defaults``) is described from its defaults: a number field each.
"""

import math

from bots.strategies.base import EXIT_PARAMS, PROTECTION_PARAMS, Strategy
from bots.strategies.managed import ManagedStrategy

# Form labels of every bot's exit and protection params (bots.strategies.base.BOT_PARAMS).
_BOT_TITLES = {
    "tp1_at_pct": "Take profit 1 at (%)",
    "tp1_size_pct": "Take profit 1 sells (%)",
    "tp2_at_pct": "Take profit 2 at (%)",
    "tp2_size_pct": "Take profit 2 sells (%)",
    "trailing_stop_pct": "Trailing stop (%)",
    "trailing_tp_activate_pct": "Trailing take profit arms at (%)",
    "trailing_tp_callback_pct": "Trailing take profit callback (%)",
    "breakeven_after_tp1": "Breakeven after take profit 1",
    "time_stop_minutes": "Time stop (minutes)",
    "sl_guard_count": "Stop-loss guard: stops",
    "sl_guard_window_minutes": "Stop-loss guard: window (minutes)",
    "max_drawdown_pct": "Max drawdown (%)",
    "cooldown_minutes": "Cooldown after a close (minutes)",
    "pair_lock_trips": "Pair lock: round trips judged",
    "pair_lock_min_profit_pct": "Pair lock: min profit (%)",
    "pair_lock_minutes": "Pair lock: duration (minutes)",
}

COMMON = {
    "position_pct": {
        "type": "number",
        "minimum": 0.001,
        "maximum": 1,
        "title": "Position size",
        "description": "Fraction of the bot's capital one position uses (0.2 = 20%). Empty: the risk mode's share.",
    },
    **{
        name: {**spec, "title": _BOT_TITLES.get(name, name.replace("_", " ").capitalize()), "x-group": group}
        for group, specs in (("exits", EXIT_PARAMS), ("protections", PROTECTION_PARAMS))
        for name, spec in specs.items()
    },
}
# JSON Schema keywords passed through to the schema as declared.
_SCHEMA_KEYS = (
    "type",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "enum",
    "default",
    "title",
    "description",
    "multipleOf",
    "x-group",
)


def declared(cls: type[Strategy]) -> dict:
    """The strategy's own parameter declarations plus the common ones."""
    own = getattr(cls, "PARAMS", None)
    if not own:
        own = {
            name: {
                "type": "integer" if isinstance(value, int) and not isinstance(value, bool) else "number",
                "default": value,
                "title": name.replace("_", " ").capitalize(),
            }
            for name, value in (getattr(cls, "defaults", None) or {}).items()
        }
    if isinstance(cls, type) and issubclass(cls, ManagedStrategy):
        return dict(own)
    return {**own, **{k: v for k, v in COMMON.items() if k not in own}}


def defaults_of(cls: type[Strategy]) -> dict:
    return {name: spec["default"] for name, spec in declared(cls).items() if "default" in spec}


def json_schema(cls: type[Strategy]) -> dict:
    """The strategy's params as a JSON Schema object; every property has a ``title`` (from its name if undeclared)."""
    properties = {
        name: {"title": name.replace("_", " ").capitalize(), **{key: spec[key] for key in _SCHEMA_KEYS if key in spec}}
        for name, spec in declared(cls).items()
    }
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    required = list(getattr(cls, "REQUIRED", ()) or ())
    if required:
        schema["required"] = required
    return schema


def _check(spec: dict, value: object) -> tuple[object, str | None]:
    """(clean value, None) or (None, the error)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, "must be a number"
    if not math.isfinite(value):
        return None, "must be a finite number"
    if spec.get("type") == "integer":
        if isinstance(value, float):
            if not value.is_integer():
                return None, "must be a whole number"
            value = int(value)
    low, high = spec.get("minimum"), spec.get("maximum")
    if low is not None and value < low:
        return None, f"must be at least {low}"
    if high is not None and value > high:
        return None, f"must be at most {high}"
    return value, None


def validate(cls: type[Strategy], params: object) -> tuple[dict, dict]:
    """(clean params, errors): errors maps ``params.<name>`` (or ``params``) to a list of messages."""
    if params is None:
        return {}, {}
    if not isinstance(params, dict):
        return {}, {"params": ["must be an object"]}
    specs = declared(cls)
    clean, errors = {}, {}
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            errors[f"params.{name}"] = [f"unknown parameter; allowed: {', '.join(sorted(specs))}"]
            continue
        checked, error = _check(spec, value)
        if error:
            errors[f"params.{name}"] = [error]
        else:
            clean[name] = checked
    return clean, errors


def describe(cls: type[Strategy]) -> dict:
    """One entry of GET /api/strategies."""
    doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return {
        "id": cls.name,
        "name": getattr(cls, "title", "") or cls.name.replace("_", " ").capitalize(),
        "description": getattr(cls, "description", "") or doc,
        "kind": getattr(cls, "kind", "indicator"),
        "params_schema": json_schema(cls),
        "defaults": defaults_of(cls),
    }
