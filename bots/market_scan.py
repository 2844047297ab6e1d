"""The strategies' side of the market scan (market.scan): every indicator strategy, with its default parameters and the
balanced risk profile, decides on a market's candles as a flat bot would (an entry: BUY) and as a bot holding it would
(an exit: SELL). market.scan (below bots, so it cannot import the strategies) calls this through the evaluator that
bots.apps registers."""

from bots.strategies import INDICATOR_STRATEGIES, RISK_PROFILES
from bots.strategies.base import CLOSE, TS, as_array, clamp_confidence

RISK = RISK_PROFILES["balanced"]


def evaluate(exchange: str, symbol: str, candles: list) -> list[dict]:
    """The opportunities the strategies see on the latest closed candle: {"strategy", "signal" ("BUY"|"SELL"),
    "entry_price", "target", "stop_loss", "confidence" (0..100), "reason", "candle_ts"}."""
    if not candles:
        return []
    data = as_array(candles)
    price, candle_ts = float(data[-1][CLOSE]), int(data[-1][TS])
    found = []
    for name, cls in sorted(INDICATOR_STRATEGIES.items()):
        strategy = cls()
        params = strategy.params(None)
        if len(data) < max(strategy.min_candles, strategy.required_candles(params)):
            continue
        entry = strategy.decide(data, position=None, params=None, risk_mode="balanced")
        if entry is not None and entry.side == "buy":
            found.append(
                _opportunity(name, "BUY", price, entry.target, entry.stop_loss, entry.confidence, entry.reason)
            )
        exit_ = strategy.exit_signal(data, {"entry_price": price}, params)
        if exit_:
            confidence, reason = exit_
            target, stop = price * (1 - RISK.take_profit_pct), price * (1 + RISK.stop_loss_pct)
            found.append(_opportunity(name, "SELL", price, target, stop, clamp_confidence(confidence), reason))
    for item in found:
        item["candle_ts"] = candle_ts
    return found


def _opportunity(strategy, signal, price, target, stop, confidence, reason):
    return {
        "strategy": strategy,
        "signal": signal,
        "entry_price": price,
        "target": target,
        "stop_loss": stop,
        "confidence": round(float(confidence) * 100, 2),
        "reason": str(reason)[:255],
    }
