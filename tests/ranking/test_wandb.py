"""Weights & Biases tracking: off unless configured; in offline mode a ranking run and a search are logged with the
seed's metric names (<strategy>/total_trades, /success_rate, /total_return, /sharpe_ratio) to a local directory."""

import sys

import pytest

from ranking import services, tracking
from ranking.models import Optimization, TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_off_without_configuration(settings, monkeypatch):
    settings.WANDB_API_KEY, settings.WANDB_MODE = "", ""
    monkeypatch.setitem(sys.modules, "wandb", None)  # never imported when off
    assert tracking.enabled() is False
    assert tracking.log_run("ranking", "x", {}, [("momentum", {"total_trades": 1})]) is None


def test_metric_names():
    metrics = {"total_trades": 3, "success_rate": 0.5, "total_return": 0.01, "sharpe_ratio": 1.2, "score": 9}
    assert tracking.strategy_metrics("momentum", metrics) == {
        "momentum/total_trades": 3,
        "momentum/success_rate": 0.5,
        "momentum/total_return": 0.01,
        "momentum/sharpe_ratio": 1.2,
    }


def test_offline_runs_are_logged(settings, tmp_path, monkeypatch, user):
    wandb = pytest.importorskip("wandb", reason="the optional wandb package (requirements-wandb.txt) is not installed")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    settings.WANDB_MODE, settings.WANDB_DIR, settings.WANDB_API_KEY = "offline", str(tmp_path), ""
    logged = []
    real_init = wandb.init

    def spy_init(**kwargs):
        run = real_init(**kwargs)
        real_log = run.log

        def log(data, *a, **kw):
            logged.append(dict(data))
            return real_log(data, *a, **kw)

        run.log = log
        return run

    monkeypatch.setattr(wandb, "init", spy_init)
    run = services.start_training(user, [["binance", "BTC/USDT"]])
    run = TrainingRun.objects.get(pk=run.pk)
    assert run.status == "completed" and run.wandb_run_id
    assert any(
        set(row) >= {"momentum/total_trades", "momentum/success_rate", "momentum/total_return", "momentum/sharpe_ratio"}
        for row in logged
    )
    assert list(tmp_path.rglob(f"run-*{run.wandb_run_id}*")), "an offline run directory is written"

    opt = services.start_optimization(
        user,
        strategy="breakout",
        exchange="binance",
        symbol="BTC/USDT",
        timeframe="1m",
        method="random",
        trials=3,
        top_n=2,
        candles=200,
        in_sample_ratio=0.7,
        risk_mode="balanced",
        initial_capital=10000,
        seed=1,
    )
    opt = Optimization.objects.get(pk=opt.pk)
    assert opt.status == "completed" and opt.wandb_run_id
    assert any("breakout/sharpe_ratio" in row for row in logged)
