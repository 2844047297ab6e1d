"""Research: parameter search, the strategy ranking and optional Weights & Biases tracking (the ranking app)."""

from amarktai.settings.env import env, env_float, env_int

__all__ = [
    "MODEL_DEPLOY_TTL_SECONDS",
    "OPTIMIZATION_MAX_ACTIVE",
    "OPTIMIZATION_MAX_TRIALS",
    "RANKING_HALF_LIFE_CANDLES",
    "RANKING_SECONDS",
    "RANKING_TIMEFRAME",
    "RANKING_WINDOW_CANDLES",
    "WANDB_API_KEY",
    "WANDB_DIR",
    "WANDB_MODE",
    "WANDB_PROJECT",
]

# Parameter searches one user may have queued or running at once (POST /api/optimizations answers 409 beyond).
OPTIMIZATION_MAX_ACTIVE = env_int("OPTIMIZATION_MAX_ACTIVE", 2)
# The most parameter sets one search evaluates (a grid larger than this is refused: use a random search).
OPTIMIZATION_MAX_TRIALS = env_int("OPTIMIZATION_MAX_TRIALS", 200)
# Seconds between two periodic ranking runs (beat, or the embedded scheduler).
RANKING_SECONDS = env_float("RANKING_SECONDS", 3600)
# The rolling window the ranking replays (latest candles of each market) and the half-life of its decay weights.
RANKING_WINDOW_CANDLES = env_int("RANKING_WINDOW_CANDLES", 500)
RANKING_HALF_LIFE_CANDLES = env_float("RANKING_HALF_LIFE_CANDLES", 100)
RANKING_TIMEFRAME = env("RANKING_TIMEFRAME", "1h")
# How long a "deploy to bot" waits for its confirmation.
MODEL_DEPLOY_TTL_SECONDS = env_int("MODEL_DEPLOY_TTL_SECONDS", 300)
# Weights & Biases (optional, requirements-wandb.txt): runs are logged when an API key is set or the mode is "offline".
WANDB_API_KEY = env("WANDB_API_KEY", "")
WANDB_MODE = env("WANDB_MODE", "")
WANDB_PROJECT = env("WANDB_PROJECT", "amarktai")
WANDB_DIR = env("WANDB_DIR", "")
