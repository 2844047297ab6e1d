"""The parameter search spaces of the strategies (bots.strategies.library), keyed by strategy id.

Each parameter is a range ``{"type": "int"|"float", "low", "high", "step"}``: a grid search walks every step, a random
search draws values on the same steps (so both land on comparable, readable values). The ranges bracket each
strategy's defaults and stay strictly positive, because bots.services validates a bot's params as positive numbers
(a deployed parameter set must be one a bot accepts). Parameters left out of a space (momentum.min_roc,
mean_reversion.exit_z, both 0 by default) keep the strategy's default.

The ranking (ranking.services) scores a few presets per strategy: the defaults plus the ``PRESETS`` below.

When the strategies declare a structured ``PARAMS`` (GET /api/strategies), these spaces can be derived from it.
"""

import itertools
import random
from typing import Any

SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "momentum": {
        "fast": {"type": "int", "low": 3, "high": 12, "step": 1},
        "slow": {"type": "int", "low": 15, "high": 60, "step": 5},
    },
    "breakout": {
        "lookback": {"type": "int", "low": 10, "high": 60, "step": 5},
        "volume_threshold": {"type": "float", "low": 1.0, "high": 3.0, "step": 0.25},
    },
    "mean_reversion": {
        "period": {"type": "int", "low": 10, "high": 50, "step": 5},
        "entry_z": {"type": "float", "low": 1.0, "high": 3.0, "step": 0.25},
    },
    "supertrend": {
        "period": {"type": "int", "low": 5, "high": 30, "step": 1},
        "multiplier": {"type": "float", "low": 1.0, "high": 5.0, "step": 0.5},
    },
}

# Named parameter sets the periodic ranking scores next to each strategy's defaults ({} = the defaults).
PRESETS: dict[str, list[dict[str, Any]]] = {
    "momentum": [{}, {"fast": 8, "slow": 30}, {"fast": 12, "slow": 50}],
    "breakout": [{}, {"lookback": 40, "volume_threshold": 2.0}],
    "mean_reversion": [{}, {"period": 30, "entry_z": 1.5}],
    "supertrend": [{}, {"period": 7, "multiplier": 2.0}, {"period": 14, "multiplier": 4.0}],
}

MAX_GRID = 5000  # a space with more points than this is searched at random, never walked


def values(spec: dict[str, Any]) -> list[int | float]:
    """Every value of one parameter range, low to high on its step."""
    low, high, step = spec["low"], spec["high"], spec["step"]
    count = round((high - low) / step) + 1
    out: list[int | float] = []
    for i in range(count):
        value = low + i * step
        out.append(int(value) if spec["type"] == "int" else round(float(value), 10))
    return out


def space_for(strategy: str, overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """The declared space of ``strategy``, narrowed by ``overrides`` ({param: {"low", "high", "step"?}}): an override
    may only narrow a declared range (ValueError otherwise), so a search never leaves what the strategy supports."""
    if strategy not in SPACES:
        raise KeyError(strategy)
    space = {name: dict(spec) for name, spec in SPACES[strategy].items()}
    for name, override in (overrides or {}).items():
        if name not in space:
            raise ValueError(f"{name} is not a searchable parameter of {strategy} ({', '.join(space)})")
        spec = space[name]
        low = override.get("low", spec["low"])
        high = override.get("high", spec["high"])
        step = override.get("step", spec["step"])
        for label, value in (("low", low), ("high", high), ("step", step)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name}.{label} must be a number")
            if spec["type"] == "int" and int(value) != value:
                raise ValueError(f"{name}.{label} must be a whole number")
        if not spec["low"] <= low <= high <= spec["high"]:
            raise ValueError(f"{name} must stay within {spec['low']}..{spec['high']} with low <= high")
        if step <= 0 or step > (spec["high"] - spec["low"]) + spec["step"]:
            raise ValueError(f"{name}.step must be positive and at most the range")
        space[name] = {**spec, "low": low, "high": high, "step": step}
    return space


def grid_size(space: dict[str, dict[str, Any]]) -> int:
    size = 1
    for spec in space.values():
        size *= len(values(spec))
    return size


def grid(space: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every combination (in a fixed order)."""
    names = list(space)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(values(space[n]) for n in names))]


def sample(space: dict[str, dict[str, Any]], count: int, seed: int | None = None) -> list[dict[str, Any]]:
    """``count`` distinct random combinations (fewer when the space is smaller), reproducible with ``seed``."""
    rng = random.Random(seed)
    total = grid_size(space)
    if total <= count:
        return grid(space)
    seen: set[tuple] = set()
    out: list[dict[str, Any]] = []
    choices = {name: values(spec) for name, spec in space.items()}
    while len(out) < count:
        combo = {name: rng.choice(options) for name, options in choices.items()}
        key = tuple(combo.values())
        if key in seen:
            continue
        seen.add(key)
        out.append(combo)
    return out


def valid_combo(strategy: str, params: dict[str, Any]) -> bool:
    """False for combinations a strategy cannot mean (momentum's fast EMA not faster than its slow one)."""
    if strategy == "momentum":
        return int(params.get("fast", 5)) < int(params.get("slow", 20))
    return True


def candidates(
    strategy: str, space: dict[str, dict[str, Any]], method: str, trials: int, seed: int | None = None
) -> list[dict[str, Any]]:
    """The parameter sets a search evaluates: the whole grid (method "grid"; the caller refuses a grid larger than
    MAX_GRID) or ``trials`` distinct random draws (method "random"), without combinations the strategy cannot mean."""
    combos = grid(space) if method == "grid" else sample(space, trials, seed)
    return [c for c in combos if valid_combo(strategy, c)]
