"""The backtest runner: pure (no Django models, no I/O), so a Celery task, a benchmark and other research code (the
optimiser, the ranking) all call the same function.

``run_backtest(strategy_id, params, candles, *, initial_capital, fee_rate, slippage, risk_mode, ...)`` replays
``candles`` oldest first through the *same* strategy object the bot engine uses (bots.strategies ``decide()`` on the
last ``window`` candles, like a tick), sizes entries with bots.sizing.order_amount (as the engine does), and fills every
order with the paper exchange's fill model (trading.fillmodel: the quote around the candle's close with the feed's
spread, the synthetic-book slippage, the platform's taker fee, the trade book's P&L formula). So a backtest over a range
makes the trades a paper bot would make ticking on those candles (tests/research/test_equivalence.py proves it).

What a backtest does not model: the owner's daily risk limits (bots.risk entry blocks), the paper account's balance
shared by a user's bots (a backtest has its own ``initial_capital``), resting limit orders (bots place market orders).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np

from bots.sizing import order_amount
from bots.strategies import get_strategy
from trading import fillmodel
from trading.exchanges.paper import market_info

WINDOW = 100  # the engine decides on the last 100 candles (bots.engine.CANDLES)
TS, OPEN, HIGH, LOW, CLOSE = 0, 1, 2, 3, 4
MS_PER_YEAR = 365 * 24 * 3600 * 1000


class Canceled(Exception):
    """The backtest was canceled (``should_cancel`` returned True between chunks)."""


@dataclass
class BacktestResult:
    trades: list[dict]  # {ts, side, amount, price, fee, cost, profit_loss, reason} (Decimal values as strings)
    equity: list[list[float]]  # [ts_ms, equity] sampled (at most ``points`` points, the last candle always included)
    buy_and_hold: list[list[float]]  # [ts_ms, value] the same capital bought at the first close and held
    drawdown: list[list[float]]  # [ts_ms, drawdown fraction <= 0] of the equity curve
    metrics: dict[str, Any]
    candles: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "trades": self.trades,
            "equity": self.equity,
            "buy_and_hold": self.buy_and_hold,
            "drawdown": self.drawdown,
            "metrics": self.metrics,
            "candles": self.candles,
            **self.extra,
        }


def _d(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def run_backtest(
    strategy_id: str,
    params: dict | None,
    candles: Sequence[Sequence[float]] | np.ndarray,
    *,
    initial_capital: Decimal | str | float = Decimal("10000"),
    fee_rate: Decimal | str | float | None = None,
    slippage: Decimal | str | float | None = None,
    risk_mode: str = "balanced",
    exchange: str = "binance",
    symbol: str = "BTC/USDT",
    window: int = WINDOW,
    max_position_fraction: Decimal = Decimal("1"),
    points: int = 1000,
    progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    chunk: int = 5000,
    trade_from: int = 0,
) -> BacktestResult:
    """Replay ``candles`` (rows [ts_ms, open, high, low, close, volume], oldest first) through strategy
    ``strategy_id`` with ``params``.

    fee_rate: taker fee per fill (default: the ``exchange`` paper exchange's taker fee). slippage: None = the paper
    exchange's synthetic-book model (size dependent), else a fixed fraction of the touch price. ``progress(fraction)``
    is called every ``chunk`` candles; ``should_cancel()`` is checked at the same points and raises Canceled.
    ``trade_from``: the candles before this index only warm the strategy up (no decision, not in the equity curve or
    the metrics), e.g. the out-of-sample part of a walk-forward.
    """
    strategy = get_strategy(strategy_id)  # KeyError for an unknown strategy
    data = np.ascontiguousarray(np.asarray(candles, dtype=float))
    if data.ndim != 2 or data.shape[1] < 6:
        raise ValueError("candles must be rows of [ts, open, high, low, close, volume]")
    n = len(data)
    capital = Decimal(str(initial_capital))
    start_capital = capital
    taker = fillmodel.fee_rates(exchange)[1] if fee_rate is None else Decimal(str(fee_rate))
    slip = None if slippage is None else Decimal(str(slippage))
    market = market_info(symbol)
    limit = market.get("max_market_amount")
    closes = data[:, CLOSE]
    decide = strategy.decide

    trades: list[dict] = []
    cash = capital  # quote currency not in the position
    position: dict | None = None  # the engine's position view: entry_price, amount, stop_loss, take_profit (floats)
    pos_amount = Decimal(0)
    entry_price = Decimal(0)
    entry_fee = Decimal(0)
    changes: list[tuple[int, float, float]] = []  # (candle index, cash after, amount after)
    fees_paid = Decimal(0)

    def parts(amount: Decimal) -> list[Decimal]:
        if not limit or amount <= limit:
            return [amount]
        out, remaining = [], amount
        while remaining > 0:
            part = min(remaining, limit)
            out.append(part)
            remaining -= part
        return out

    for i in range(trade_from, n):
        if should_cancel is not None and i % chunk == 0 and i and should_cancel():
            raise Canceled()
        if progress is not None and i % chunk == 0 and i:
            progress(i / n)
        signal = decide(data[max(0, i - window + 1) : i + 1], position, params, risk_mode)
        if signal is None:
            continue
        if signal.side == "buy":
            if position is not None:
                continue
            book = fillmodel.quote_book(symbol, float(closes[i]))
            amount = order_amount(capital, Decimal(str(book["ask"])), risk_mode, params, max_position_fraction)
            amount = (amount / market["amount_precision"]).to_integral_value(ROUND_DOWN) * market["amount_precision"]
            if amount < market["min_amount"] or (market["min_cost"] and amount * book["last"] < market["min_cost"]):
                continue
            fills = []
            for part in parts(amount):
                price = fillmodel.market_fill_price(market, "buy", part, book, slip)
                cost, fee = fillmodel.settle(part, price, taker)
                fills.append((part, price, cost, fee))
            if sum(c + f for _, _, c, f in fills) > cash:
                continue  # the backtest's account cannot pay for it
            for part, price, cost, fee in fills:
                if pos_amount:
                    entry_price = fillmodel.average_entry(entry_price, pos_amount, price, part)
                else:
                    entry_price = price
                pos_amount += part
                entry_fee += fee
                cash -= cost + fee
                fees_paid += fee
                trades.append(_trade(data, i, "buy", part, price, cost, fee, Decimal(0), signal.reason))
            stop = Decimal(str(round(signal.stop_loss, 8))) if signal.stop_loss else None
            target = Decimal(str(round(signal.target, 8))) if signal.target else None
            position = {
                "entry_price": float(entry_price),
                "amount": float(pos_amount),
                "stop_loss": float(stop) if stop is not None else None,
                "take_profit": float(target) if target is not None else None,
            }
            changes.append((i, float(cash), float(pos_amount)))
        else:
            if position is None:
                continue
            book = fillmodel.quote_book(symbol, float(closes[i]))
            for part in parts(pos_amount):
                price = fillmodel.market_fill_price(market, "sell", part, book, slip)
                cost, fee = fillmodel.settle(part, price, taker)
                profit, fee_share = fillmodel.close_profit(entry_price, entry_fee, pos_amount, part, price, fee)
                pos_amount -= part
                entry_fee -= fee_share
                cash += cost - fee
                fees_paid += fee
                capital += profit  # bots.pnl: the bot's current capital moves by the realised P&L
                trades.append(_trade(data, i, "sell", part, price, cost, fee, profit, signal.reason))
            position, pos_amount, entry_price, entry_fee = None, Decimal(0), Decimal(0), Decimal(0)
            changes.append((i, float(cash), 0.0))
    if progress is not None:
        progress(1.0)
    shifted = [(i - trade_from, c, a) for i, c, a in changes]
    return _result(data[trade_from:], trades, shifted, float(start_capital), fees_paid, points)


def _trade(data, i, side, amount, price, cost, fee, profit, reason) -> dict:
    return {
        "ts": int(data[i, TS]),
        "index": i,
        "side": side,
        "amount": _d(amount),
        "price": _d(price),
        "cost": _d(cost),
        "fee": _d(fee),
        "profit_loss": _d(profit),
        "reason": str(reason)[:255],
    }


def equity_arrays(n: int, closes: np.ndarray, changes: list, start: float) -> tuple[np.ndarray, np.ndarray]:
    """(equity, amount held) per candle from the (index, cash, amount) changes: marked at each close."""
    cash = np.full(n, start)
    held = np.zeros(n)
    for k, (i, c, a) in enumerate(changes):
        end = changes[k + 1][0] if k + 1 < len(changes) else n
        cash[i:end] = c
        held[i:end] = a
    return cash + held * closes, held


def _periods_per_year(ts: np.ndarray) -> float:
    if len(ts) < 2:
        return 0.0
    step = float(np.median(np.diff(ts)))
    return MS_PER_YEAR / step if step > 0 else 0.0


def compute_metrics(
    equity: np.ndarray, ts: np.ndarray, closes: np.ndarray, trades: list[dict], held: np.ndarray, fees_paid: Decimal
) -> dict[str, Any]:
    """Total return, CAGR, max drawdown, Sharpe and Sortino (annualised from per-candle returns, risk-free 0), win
    rate and profit factor (over closing trades), exposure (share of candles with a position), fees, and buy-and-hold
    (the same capital held from the first close to the last) as the baseline."""
    start, end = float(equity[0]) if len(equity) else 0.0, float(equity[-1]) if len(equity) else 0.0
    total_return = end / start - 1 if start else 0.0
    years = (float(ts[-1]) - float(ts[0])) / MS_PER_YEAR if len(ts) > 1 else 0.0
    cagr = (end / start) ** (1 / years) - 1 if years > 0 and start > 0 and end > 0 else None
    peak = np.maximum.accumulate(equity) if len(equity) else equity
    drawdowns = equity / peak - 1 if len(equity) else equity
    max_dd = float(drawdowns.min()) if len(equity) else 0.0
    returns = np.diff(equity) / equity[:-1] if len(equity) > 1 else np.array([])
    per_year = _periods_per_year(ts)
    sharpe = sortino = None
    if len(returns) > 1:
        sd = float(returns.std(ddof=1))
        mean = float(returns.mean())
        sharpe = mean / sd * np.sqrt(per_year) if sd > 0 else None
        downside = returns[returns < 0]
        dsd = float(np.sqrt((downside**2).sum() / len(returns))) if len(downside) else 0.0
        sortino = mean / dsd * np.sqrt(per_year) if dsd > 0 else None
    closing = [Decimal(t["profit_loss"]) for t in trades if t["side"] == "sell"]
    wins = [p for p in closing if p > 0]
    gross_profit = sum(wins, Decimal(0))
    gross_loss = -sum((p for p in closing if p < 0), Decimal(0))
    buy_hold = float(closes[-1] / closes[0] - 1) if len(closes) and closes[0] else 0.0
    return {
        "start_equity": round(start, 8),
        "final_equity": round(end, 8),
        "total_return": round(total_return, 8),
        "cagr": None if cagr is None else round(float(cagr), 8),
        "max_drawdown": round(max_dd, 8),
        "sharpe": None if sharpe is None else round(float(sharpe), 6),
        "sortino": None if sortino is None else round(float(sortino), 6),
        "trades": len(trades),
        "round_trips": len(closing),
        "win_rate": round(len(wins) / len(closing), 6) if closing else None,
        "profit_factor": (round(float(gross_profit / gross_loss), 6) if gross_loss > 0 else None),
        "exposure": round(float((held > 0).mean()), 6) if len(held) else 0.0,
        "fees_paid": _d(fees_paid),
        "buy_and_hold_return": round(buy_hold, 8),
    }


def _sample(n: int, points: int) -> np.ndarray:
    if n <= points:
        return np.arange(n)
    idx = np.linspace(0, n - 1, points).astype(int)
    return np.unique(idx)


def _result(data, trades, changes, start: float, fees_paid: Decimal, points: int) -> BacktestResult:
    n = len(data)
    ts, closes = data[:, TS], data[:, CLOSE]
    if n == 0:
        metrics = compute_metrics(np.array([start]), np.array([0.0]), np.array([1.0]), trades, np.zeros(1), fees_paid)
        return BacktestResult(trades, [], [], [], metrics, 0)
    equity, held = equity_arrays(n, closes, changes, start)
    metrics = compute_metrics(equity, ts, closes, trades, held, fees_paid)
    hold = start * closes / closes[0] if closes[0] else np.full(n, start)
    peak = np.maximum.accumulate(equity)
    dd = equity / peak - 1
    idx = _sample(n, points)
    return BacktestResult(
        trades=trades,
        equity=[[int(ts[i]), round(float(equity[i]), 8)] for i in idx],
        buy_and_hold=[[int(ts[i]), round(float(hold[i]), 8)] for i in idx],
        drawdown=[[int(ts[i]), round(float(dd[i]), 8)] for i in idx],
        metrics=metrics,
        candles=n,
    )
