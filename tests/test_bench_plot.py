"""bench/plot.py draws PNGs from a small fake results file, skips the series it has no figures for, and run_all.py
writes its results file with the machine description."""

import json

import pytest

pytest.importorskip("matplotlib")

from bench import plot, run_all

PNG = b"\x89PNG\r\n\x1a\n"


def write(directory, name, rows):
    (directory / name).write_text(json.dumps({"date": "2026-11-25", "machine": run_all.machine(), "results": rows}))


def test_plot_draws_every_series_found(tmp_path):
    results, out = tmp_path / "results", tmp_path / "out"
    results.mkdir()
    write(
        results,
        "2026-11-24.json",
        [{"name": "bot ticks/s (1,000 bots, 2 workers)", "value": 300, "unit": "ticks/s"}],
    )
    write(
        results,
        "2026-11-25.json",
        [
            {"name": "bot ticks/s (20,000 bots, 2 workers)", "value": 2100, "unit": "ticks/s"},
            {"name": "latency_trades_first_page_p99 1k trades", "value": 4.0, "unit": "ms"},
            {"name": "latency_trades_first_page_p99 1M trades", "value": 9.5, "unit": "ms"},
            # bench_latency.py's own names, and a baseline round that is not a point of the current code
            {"name": "p99 GET /api/metrics @ 1,000 trades", "value": 3.0, "unit": "ms"},
            {"name": "p99 GET /api/metrics @ 1,000,000 trades", "value": 31.0, "unit": "ms"},
            {"name": "bot ticks/s (20,000 bots) baseline HEAD~3", "value": 900, "unit": "ticks/s"},
            {"name": "ws_fanout_p99 500 clients", "value": 12.0, "unit": "ms"},
            {"name": "ws_fanout_p99 5000 clients", "value": 180.0, "unit": "ms"},
            {"name": "bench_api.py", "value": "-", "unit": ""},  # a crashed script: ignored
        ],
    )
    written = plot.main(["--results", str(results), "--out", str(out)])
    assert sorted(p.name for p in written) == ["api_p99.png", "ticks.png", "ws_p99.png"]
    for path in written:
        assert path.read_bytes().startswith(PNG)
    series = plot.series(plot.load(results)[0])
    assert series["ticks"]["bot ticks/s"] == {1000.0: 300.0, 20000.0: 2100.0}
    assert series["api_p99"]["trades first page"] == {1000.0: 4.0, 1e6: 9.5}
    assert series["api_p99"]["GET /api/metrics"] == {1000.0: 3.0, 1e6: 31.0}


def test_plot_skips_missing_series(tmp_path, capsys):
    results, out = tmp_path / "results", tmp_path / "out"
    results.mkdir()
    write(results, "2026-11-25.json", [{"name": "ws_fanout_p99 2000 clients", "value": 40.0, "unit": "ms"}])
    written = plot.main(["--results", str(results), "--out", str(out)])
    assert [p.name for p in written] == ["ws_p99.png"]
    assert "ticks: no figures" in capsys.readouterr().out
    assert plot.main(["--results", str(tmp_path / "empty"), "--out", str(out)]) == []


def test_run_all_writes_results_with_the_machine(tmp_path):
    path = run_all.write_results([{"name": "x", "value": 1, "unit": "ms"}], tmp_path)
    data = json.loads(path.read_text())
    assert data["results"][0]["name"] == "x"
    assert {"cores", "cpu", "ram_gb", "python", "db"} <= set(data["machine"])


def test_run_all_fills_issue_17s_table_from_the_rows():
    rows = [
        {"name": "bot ticks/s (20,000 bots, 100 markets, 2 workers)", "value": 2100, "unit": "ticks/s", "ok": True},
        {"name": "paper market orders/s (SQLite, one process)", "value": 400, "unit": "orders/s", "ok": False},
        {"name": "paper limit orders/s (SQLite, one process)", "value": 380, "unit": "orders/s", "ok": False},
    ]
    table = run_all.issue_table(rows)
    assert table[0] == "| figure | today | next target | met? |"
    ticks = [line for line in table if line.startswith("| bot ticks/s, 20,000 bots")]
    assert ticks == [
        "| bot ticks/s, 20,000 bots on 100 markets, 2 Celery workers | 2100 ticks/s "
        "(bot ticks/s (20,000 bots, 100 markets, 2 workers)) | >= 2,000 | met |"
    ]
    paper = [line for line in table if line.startswith("| paper orders/s")]
    assert len(paper) == 2 and all(line.endswith("| missed |") for line in paper)
    assert "| memory per active bot | not measured in this run | < 10 KB at 100,000 bots | - |" in table
