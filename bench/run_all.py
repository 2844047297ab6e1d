"""Run every benchmark in bench/ and print one table of figures against their targets.

    make bench            (or: .venv/bin/python bench/run_all.py [--only api,ticks])

Each bench script prints its own details, then lines "BENCH_RESULT {json}" that this runner collects.
"""

import argparse
import json
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
}


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


if __name__ == "__main__":
    main()
