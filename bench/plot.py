"""Draw how cost grows from the figures `make bench` wrote (bench/results/<date>.json, newest by default):

- ticks.png:  bot ticks/s against the number of bots (bench_ticks.py: "... ticks/s (<N> bots ...)")
- api_p99.png: API p99 against data size, one line per endpoint (bench_latency.py: "latency_* ... <N> trades ...")
- ws_p99.png: WebSocket fan-out p99 against connected clients (bench_ws_fanout.py: "ws_fanout_p99 <N> clients")

Every result file of the directory is read (older runs fill in series the newest lacks; the newest wins a tie), a
series with no points is skipped with a note, and a plot without any series is not drawn.

    python bench/plot.py [--results bench/results] [--out docs/benchmarks]
"""

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUMBER = r"(\d[\d,_]*(?:\.\d+)?)\s*([kKmM]?)"


def number(text, unit):
    """The count written before ``unit`` in ``text`` ("20,000 bots", "1M trades", "100k trades"), or None."""
    match = re.search(NUMBER + r"\s*" + unit, text)
    if not match:
        return None
    value = float(match.group(1).replace(",", "").replace("_", ""))
    return value * {"": 1, "k": 1e3, "m": 1e6}[match.group(2).lower()]


def value(row):
    try:
        return float(row.get("value"))
    except (TypeError, ValueError):
        return None


def load(directory):
    """Every result row of every file, oldest file first, with its file's date and machine."""
    rows, machine = [], None
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            print(f"skipped {path.name}: not a results file", file=sys.stderr)
            continue
        machine = data.get("machine") or machine
        for row in data.get("results") or []:
            if isinstance(row, dict) and isinstance(row.get("name"), str):
                rows.append(row)
    return rows, machine


def series(rows):
    """{plot: {label: {x: y}}}; later rows overwrite earlier ones at the same x."""
    plots = {"ticks": {}, "api_p99": {}, "ws_p99": {}}
    for row in rows:
        name, y = row["name"], value(row)
        if y is None:
            continue
        low = name.lower()
        if "ticks/s" in low and "baseline" not in low:
            x = row.get("bots") or number(name, "bots")
            if x:
                plots["ticks"].setdefault("bot ticks/s", {})[float(x)] = y
        elif (low.startswith("latency_") and "p99" in low) or (low.startswith("p99 ") and "trades" in low):
            # bench_latency.py: "p99 GET /api/trades?limit=50 (first page) @ 1,000,000 trades"
            x = row.get("trades") or number(name, "trades")
            if x:
                label = re.sub(NUMBER + r"\s*trades", "", name).replace("latency_", "").replace("p99", "")
                label = re.sub(r"[\s,_@]+", " ", label).strip() or "API"
                plots["api_p99"].setdefault(label, {})[float(x)] = y
        elif ("ws_fanout_p99" in low or "ws fan-out p99" in low) and "clients" in low:
            x = row.get("clients") or number(name, "clients")
            if x:
                plots["ws_p99"].setdefault("fan-out p99", {})[float(x)] = y
    return plots


TITLES = {
    "ticks": ("Bot ticks per second against bots", "active bots", "ticks/s"),
    "api_p99": ("API p99 against data size", "trades in the database", "p99 (ms)"),
    "ws_p99": ("WebSocket fan-out p99 against clients", "connected clients", "p99 (ms)"),
}


def draw(plots, out, machine=None):
    """Write one PNG per plot that has data; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for key, lines in plots.items():
        lines = {label: points for label, points in lines.items() if points}
        if not lines:
            print(f"{key}: no figures in the results, not drawn")
            continue
        title, xlabel, ylabel = TITLES[key]
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
        for label, points in sorted(lines.items()):
            xs = sorted(points)
            ax.plot(xs, [points[x] for x in xs], marker="o", label=label)
        if max(max(p) for p in lines.values()) / max(1.0, min(min(p) for p in lines.values())) >= 50:
            ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if len(lines) > 1:
            ax.legend(fontsize=8)
        if machine:
            fig.text(
                0.01,
                0.01,
                f"{machine.get('cores')} cores, {machine.get('cpu')}, {machine.get('ram_gb')} GB, "
                f"Python {machine.get('python')}, {machine.get('db')}",
                fontsize=7,
                color="gray",
            )
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        path = out / f"{key}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
        print(f"wrote {path}")
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(HERE / "results"), help="directory of <date>.json result files")
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "benchmarks"), help="where the PNGs go")
    args = parser.parse_args(argv)
    rows, machine = load(args.results)
    if not rows:
        print(f"no results in {args.results}: run `make bench` first")
        return []
    return draw(series(rows), args.out, machine)


if __name__ == "__main__":
    main()
