"""Run every benchmark in bench/ and print one table of figures against their targets.

    make bench            (or: .venv/bin/python bench/run_all.py [--only api,ticks])

Each bench script prints its own details, then lines "BENCH_RESULT {json}" that this runner collects. The figures are
written to bench/results/<date>.json with the machine they came from (cores, CPU model, RAM, Python, database
backend); bench/plot.py draws them.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "api": ["bench_api.py"],
    "servers": ["bench_servers.py"],
    "ticks": ["bench_ticks.py"],
    "ws": ["bench_ws_fanout.py"],
    "memory": ["bench_memory.py"],
    "paper": ["bench_paper_orders.py"],
    "signals": ["bench_signals.py"],
    "backtest": ["bench_backtest.py"],
    "backtest_load": ["bench_backtest_load.py"],
    "latency": ["bench_latency.py"],
    "ratelimit": ["bench_ratelimit.py"],
    "market_stream": ["bench_market_stream.py"],
}


def machine():
    """The machine a run came from: cores, CPU model, RAM, Python version, database and channel-layer backends."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        ram_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    url = os.environ.get("DATABASE_URL", "")
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": ram_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "db": url.split(":", 1)[0] if url else "sqlite",
        "redis": bool(os.environ.get("REDIS_URL")),
    }


def write_results(rows, directory=None):
    """bench/results/<UTC date>.json: {"date", "machine", "results": [BENCH_RESULT rows]}. Returns the path."""
    directory = Path(directory or HERE / "results")
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    path = directory / f"{now:%Y-%m-%d}.json"
    path.write_text(
        json.dumps({"date": now.isoformat(timespec="seconds"), "machine": machine(), "results": rows}, indent=1) + "\n"
    )
    return path


# Issue 17's table: (figure, the result rows that fill it (a regular expression on their names), the target).
ISSUE_17 = (
    ("bot ticks/s, 1,000 bots on 20 markets, 2 Celery workers", r"^bot ticks/s \(1,000 bots", "-"),
    ("bot ticks/s, 20,000 bots on 100 markets, 2 Celery workers", r"^bot ticks/s \(20,000 bots", ">= 2,000"),
    ("GET /api/bots, gunicorn 2 workers (share of hello-world)", r"^GET /api/bots \(\d+ bots\), gunicorn", ">= 55 %"),
    ("GET /api/bots, the one-process server of make run", r"^GET /api/bots \(\d+ bots\), serve$", ">= 1,500 req/s"),
    ("WebSocket fan-out p99", r"^ws_fanout_p99 ", "5,000 clients: < 250 ms"),
    ("WebSocket fan-out messages/s delivered", r"^ws_fanout_msgs_per_s ", "5,000 clients: >= 25,000"),
    ("memory per active bot", r"^memory per active bot", "< 10 KB at 100,000 bots"),
    ("paper orders/s", r"^paper (market|limit) orders/s", ">= 1,000"),
    ("API p99 at 1M trades", r"^p99 .* @ 1,000,000 trades", "lists < 25 ms, /api/metrics < 50 ms"),
)


def issue_table(rows):
    """Issue 17's table with this run's figures: one line per result row that fills a figure."""
    lines = []
    for figure, pattern, target in ISSUE_17:
        found = [row for row in rows if re.search(pattern, str(row.get("name", "")))]
        if not found:
            lines.append(f"| {figure} | not measured in this run | {target} | - |")
        for row in found:
            verdict = {True: "met", False: "missed", None: "-"}[row.get("ok")]
            detail = row["name"] if len(found) > 1 or figure not in row["name"] else ""
            today = f"{row['value']} {row.get('unit', '')}".strip() + (f" ({detail})" if detail else "")
            note = f"; {row['note']}" if row.get("note") else ""
            lines.append(f"| {figure} | {today}{note} | {target} | {verdict} |")
    return ["| figure | today | next target | met? |", "|---|---|---|---|", *lines]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(SCRIPTS), help="comma separated subset of: " + ", ".join(SCRIPTS))
    args = parser.parse_args()
    rows = []
    for key in args.only.split(","):
        for script in SCRIPTS[key.strip()]:
            path = HERE / script
            if not path.exists():
                rows.append({"name": script, "value": "-", "unit": "", "target": "", "ok": None, "note": "missing"})
                continue
            print(f"\n### {script}", flush=True)
            started = time.time()
            proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
            found = False
            for line in proc.stdout.splitlines():
                if line.startswith("BENCH_RESULT "):
                    rows.append(json.loads(line[len("BENCH_RESULT ") :]))
                    found = True
                else:
                    print(line)
            if proc.returncode != 0:
                print(proc.stderr[-3000:])
                rows.append(
                    {
                        "name": script,
                        "value": "-",
                        "unit": "",
                        "target": "",
                        "ok": False,
                        "note": f"exit {proc.returncode}",
                    }
                )
            elif not found:
                rows.append(
                    {"name": script, "value": "see output above", "unit": "", "target": "", "ok": None, "note": ""}
                )
            print(f"({script}: {time.time() - started:.0f} s)")

    print("\n" + "=" * 110)
    print(f"{'benchmark':52} {'value':>12} {'unit':8} {'target':24} result")
    print("-" * 110)
    for row in rows:
        verdict = {True: "MET", False: "MISSED", None: "-"}[row.get("ok")]
        print(
            f"{row['name'][:52]:52} {row['value']!s:>12} {row['unit'][:8]:8} {str(row.get('target') or '')[:24]:24} "
            f"{verdict}  {row.get('note', '')}"
        )
    print("\nIssue 17's table, this run (Markdown):\n")
    print("\n".join(issue_table(rows)))
    print(f"\nfigures written to {write_results(rows)} (draw them: python bench/plot.py)")


if __name__ == "__main__":
    main()
