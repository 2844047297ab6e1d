"""The ranking math and the search spaces (pure, no database)."""

import math

import pytest

from bots.services import _validate_params
from bots.strategies import INDICATOR_STRATEGIES as STRATEGIES
from ranking import scoring, spaces


def test_decay_weights_halve_every_half_life():
    assert scoring.decay_weights(3, 1) == [0.25, 0.5, 1.0]
    assert scoring.decay_weights(5, 2)[-1] == 1.0 and scoring.decay_weights(5, 2)[-3] == 0.5


def test_decayed_score_on_a_hand_computed_series():
    # returns 1%, -1%, 2% with weights 0.25, 0.5, 1 (sum 1.75):
    # mean = (0.0025 - 0.005 + 0.02) / 1.75 = 0.01
    # var = (0.25 * 0^2 + 0.5 * 0.02^2 + 1 * 0.01^2) / 1.75 = 0.0003 / 1.75
    returns = [0.01, -0.01, 0.02]
    mean, sd = scoring.decayed_stats(returns, 1)
    assert mean == pytest.approx(0.01)
    assert sd == pytest.approx(math.sqrt(0.0003 / 1.75))
    assert scoring.decayed_score(returns, 1) == pytest.approx(0.01 / math.sqrt(0.0003 / 1.75))
    assert scoring.decayed_score(returns, 1, annualise=4) == pytest.approx(2 * 0.01 / math.sqrt(0.0003 / 1.75))


def test_recent_performance_weighs_more():
    early_win = [0.02, 0.02, -0.01, -0.01]
    late_win = list(reversed(early_win))
    # Undecayed (a huge half-life) both series are alike; decayed, the one that wins lately ranks higher.
    assert scoring.decayed_score(early_win, 1e9) == pytest.approx(scoring.decayed_score(late_win, 1e9))
    assert scoring.decayed_score(late_win, 1) > 0 > scoring.decayed_score(early_win, 1)


def test_flat_and_empty_series_score_zero():
    assert scoring.decayed_score([0.0, 0.0, 0.0], 5) == 0.0
    assert scoring.decayed_score([], 5) == 0.0
    assert scoring.returns_of([100, 110, 99]) == pytest.approx([0.1, -0.1])


def test_model_metrics_use_ampyfin_names():
    metrics = {"round_trips": 4, "win_rate": 0.75, "total_return": 0.031, "sharpe": None, "max_drawdown": -0.02}
    assert scoring.model_metrics(metrics) == {
        "total_trades": 4,
        "success_rate": 0.75,
        "total_return": 0.031,
        "sharpe_ratio": 0.0,
        "max_drawdown": -0.02,
    }


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_has_a_space_a_bot_accepts(strategy):
    space = spaces.SPACES[strategy]
    assert set(space) <= set(STRATEGIES[strategy].defaults)
    for name, spec in space.items():
        default = STRATEGIES[strategy].defaults[name]
        assert spec["low"] <= default <= spec["high"], name
    for combo in spaces.sample(space, 20, seed=1) + [p for p in spaces.PRESETS[strategy] if p]:
        assert _validate_params(strategy, combo) == combo  # a deployable parameter set


def test_grid_random_and_narrowing():
    space = spaces.space_for("momentum", {"fast": {"low": 3, "high": 5}, "slow": {"low": 15, "high": 20}})
    assert spaces.grid_size(space) == 6
    assert spaces.grid(space)[0] == {"fast": 3, "slow": 15}
    assert spaces.sample(space, 4, seed=7) == spaces.sample(space, 4, seed=7)
    assert len({tuple(c.values()) for c in spaces.sample(space, 4, seed=7)}) == 4
    with pytest.raises(ValueError):
        spaces.space_for("momentum", {"fast": {"low": 1}})  # wider than declared
    with pytest.raises(ValueError):
        spaces.space_for("momentum", {"min_roc": {"low": 0.1}})
    assert all(c["fast"] < c["slow"] for c in spaces.candidates("momentum", spaces.SPACES["momentum"], "random", 30, 3))
