"""Signal bots' webhook tokens: random, shown once, stored only as their SHA-256 (like API keys)."""

import hashlib
import secrets

from bots.strategies import STRATEGIES

WEBHOOK_TOKEN_PREFIX = "whk_"


def is_webhook_strategy(strategy: str) -> bool:
    cls = STRATEGIES.get(strategy)
    return cls is not None and getattr(cls, "kind", "") == "webhook"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """(token, its hash): the token goes to the owner once, the hash to Bot.webhook_token_hash."""
    token = WEBHOOK_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)
