from bots.strategies.base import RISK_PROFILES, RiskProfile, Signal  # noqa: F401
from bots.strategies.library import INDICATOR_STRATEGIES, STRATEGIES, get_strategy, supertrend  # noqa: F401
from bots.strategies.signal import SignalStrategy

STRATEGIES.setdefault(SignalStrategy.name, SignalStrategy)


def ticks(strategy: str) -> bool:
    """Whether the engine decides for bots of ``strategy`` on candles (False for webhook-driven ones)."""
    cls = STRATEGIES.get(strategy)
    return cls is None or getattr(cls, "kind", "indicator") != "webhook"


WEBHOOK_STRATEGIES = [name for name, cls in STRATEGIES.items() if getattr(cls, "kind", "") == "webhook"]


# The choice lists of the API schema (amarktai.settings.api ENUM_NAME_OVERRIDES).
STRATEGY_CHOICES = sorted(STRATEGIES)
INDICATOR_STRATEGY_CHOICES = sorted(INDICATOR_STRATEGIES)
