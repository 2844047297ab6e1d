"""Position sizing as a pure function, shared by the bot engine and the backtest (research.backtest)."""

from decimal import ROUND_DOWN, Decimal

from bots.strategies import RISK_PROFILES

STEP = Decimal("0.00000001")


def order_amount(
    capital: Decimal, price: Decimal, risk_mode: str, params: dict | None, max_fraction: Decimal
) -> Decimal:
    """Position size: the ``position_pct`` parameter (a fraction of capital, set e.g. through the assistant) or else the
    risk mode's share of ``capital``, never more than ``max_fraction`` (the owner's max position %, bots.risk), at
    ``price`` (the ask the order will meet), rounded down to 1e-8."""
    profile = RISK_PROFILES.get(risk_mode, RISK_PROFILES["balanced"])
    size_pct = Decimal(str((params or {}).get("position_pct", profile.position_pct)))
    budget = capital * min(size_pct, max_fraction)
    return (budget / price).quantize(STEP, rounding=ROUND_DOWN)
