from bots.strategies.base import RISK_PROFILES, RiskProfile, Signal  # noqa: F401
from bots.strategies.library import INDICATOR_STRATEGIES, STRATEGIES, get_strategy, supertrend  # noqa: F401
