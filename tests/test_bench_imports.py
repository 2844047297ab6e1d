"""The benchmarks are not timed in CI, but they must stay importable and registered in bench/run_all.py."""

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
MODULES = sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_bench_module_imports(name):
    module = importlib.import_module(f"bench.{name}")
    if name.startswith("bench_"):
        assert callable(module.main)


def test_every_bench_script_is_registered_in_run_all():
    from bench.run_all import SCRIPTS

    registered = {script for scripts in SCRIPTS.values() for script in scripts}
    assert registered == {f"{name}.py" for name in MODULES if name.startswith("bench_")}
    assert "bench_backtest_load.py" in registered
