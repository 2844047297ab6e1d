"""Backtest throughput: one year of 1-minute candles (525,600) through one strategy (momentum 5/20, the engine's
100-candle window every candle) with research.backtest.run_backtest, on one core. Target: under 10 s.

Beside it, a vectorised numpy reference of the same signals: every 100-candle window's EMAs at its last two candles as
two matrix products over numpy's sliding windows, the crossings and the rate of change as array operations, and only
the trades' own bookkeeping (entries, stop loss / take profit / cross-down exits) in a loop over the signals. It makes
the same entries and exits (the script checks the counts) and shows what the per-candle strategy calls cost: the
ratio. CPU time (process_time) is reported besides wall time: on a shared machine the wall clock includes waiting.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings_bench")

import django

django.setup()

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from bots.strategies.base import RISK_PROFILES, _ema_weights  # noqa: E402
from research.backtest import run_backtest  # noqa: E402

N = 525_600
TARGET_S = 10.0
WINDOW = 100


def candles(n, seed=42):
    rng = np.random.default_rng(seed)
    close = 65_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0003, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0003, n)))
    ts = 1_700_000_000_000 + np.arange(n, dtype=float) * 60_000
    return np.column_stack([ts, open_, high, low, close, rng.lognormal(0, 0.6, n)])


def reference(data, fast=5, slow=20, risk="balanced"):
    """The momentum strategy's decisions, vectorised: returns (entries, exits) candle indexes."""
    close, high, low = data[:, 4], data[:, 2], data[:, 3]
    windows = sliding_window_view(close, WINDOW)  # row j: candles j .. j+99, deciding at candle j+99
    first = windows[:, :1]
    dev = windows - first
    ema = {}
    for period in (fast, slow):
        w = _ema_weights(period, WINDOW)
        ema[period] = (dev @ w[-1] + first[:, 0], dev @ w[-2] + first[:, 0])
    (f1, f2), (s1, s2) = ema[fast], ema[slow]
    at = np.arange(WINDOW - 1, len(close))
    roc = close[at] / close[at - fast] - 1  # the window's close[-fast - 1]
    up = (f1 > s1) & (f2 <= s2) & (roc > 0)
    down = (f1 < s1) & (f2 >= s2)
    # The first candles decide on shorter windows (from slow + 2 candles on), as the runner's first steps do.
    head_up, head_down = [], []
    for end in range(slow + 1, WINDOW - 1):
        part = close[: end + 1] - close[0]
        (hf1, hf2), (hs1, hs2) = (
            (_ema_weights(p, end + 1)[-1] @ part, _ema_weights(p, end + 1)[-2] @ part) for p in (fast, slow)
        )
        if hf1 > hs1 and hf2 <= hs2 and close[end] / close[end - fast] - 1 > 0:
            head_up.append(end)
        if hf1 < hs1 and hf2 >= hs2:
            head_down.append(end)
    profile = RISK_PROFILES[risk]
    entries, exits = [], []
    up_idx = np.concatenate([np.array(head_up, dtype=int), at[up]])
    down_idx = np.concatenate([np.array(head_down, dtype=int), at[down]])
    i = WINDOW - 1
    while True:
        k = np.searchsorted(up_idx, i)
        if k >= len(up_idx):
            break
        entry = int(up_idx[k])
        price = close[entry]
        stop, target = price * (1 - profile.stop_loss_pct), price * (1 + profile.take_profit_pct)
        entries.append(entry)
        d = np.searchsorted(down_idx, entry + 1)
        cross = int(down_idx[d]) if d < len(down_idx) else len(close)
        hits = np.flatnonzero((low[entry + 1 : cross] <= stop) | (high[entry + 1 : cross] >= target))
        candidates = [entry + 1 + int(hits[0])] if len(hits) else []
        if cross < len(close):
            candidates.append(cross)
        if not candidates:
            break
        out = min(candidates)
        exits.append(out)
        i = out + 1
    return entries, exits


def main():
    data = candles(N)
    started, cpu = time.perf_counter(), time.process_time()
    # Fee and fixed slippage 0: the bench measures speed, and the capital must stay large enough for every entry to
    # clear the exchange's minimum order (a year of ~13,000 round trips would eat a small account in fees).
    result = run_backtest(
        "momentum",
        {},
        data,
        initial_capital="1000000",
        exchange="binance",
        symbol="BTC/USDT",
        fee_rate=0,
        slippage=0,
    )
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    started_ref, cpu_ref = time.perf_counter(), time.process_time()
    entries, exits = reference(data)
    ref_wall, ref_cpu = time.perf_counter() - started_ref, time.process_time() - cpu_ref
    buys = len({t["index"] for t in result.trades if t["side"] == "buy"})  # an order split in parts is one entry
    sells = len({t["index"] for t in result.trades if t["side"] == "sell"})
    print(f"run_backtest: {N:,} candles in {wall:.2f} s wall, {used:.2f} s CPU ({N / used:,.0f} candles/s)")
    print(f"  {buys} entries, {sells} exits, total return {result.metrics['total_return']:+.2%}")
    print(f"numpy reference: {ref_wall:.3f} s wall, {ref_cpu:.3f} s CPU; {len(entries)} entries, {len(exits)} exits")
    print(f"ratio (runner / reference, CPU): {used / ref_cpu:.1f}x")
    # The reference sums its dot products in another order than the strategy's matrix product: an EMA crossing decided
    # by the last bit of a float may differ, so the counts must agree to 0.1 %, not exactly.
    runner_entries = sorted({t["index"] for t in result.trades if t["side"] == "buy"})
    agree = len(set(runner_entries) & set(entries)) / max(len(entries), 1)
    same = abs(buys - len(entries)) <= 0.001 * len(entries) and agree >= 0.99
    print(f"entries at the same candle as the reference: {agree:.2%}; counts agree to 0.1 %: {same}")
    note = f"numpy reference {ref_cpu:.2f} s CPU, runner/reference {used / ref_cpu:.1f}x, same entries {agree:.1%}"
    print(
        "BENCH_RESULT "
        + json.dumps(
            {
                "name": "backtest: 525,600 1m candles, one strategy",
                "value": round(used, 2),
                "unit": "s CPU",
                "target": f"< {TARGET_S:.0f}",
                "ok": used < TARGET_S and same,
                "note": note,
            }
        )
    )


if __name__ == "__main__":
    main()
