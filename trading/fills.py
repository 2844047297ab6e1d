"""Who hears of a fill. trading books the Trade and the position; apps above it (bots: the bot's capital and P&L)
register a listener from their AppConfig.ready() instead of being imported here.

A listener has two methods, both called inside the fill's transaction:
- ``before_fill(order)``: lock the rows it will change (called before the position rows are locked, so every writer
  takes locks in the same order: bot, then position);
- ``after_fill(trade)``: apply the trade (``trade.profit_loss`` is the realised P&L) and publish its own events.
"""

from typing import Protocol

from trading.models import Order, Trade


class FillListener(Protocol):
    def before_fill(self, order: Order) -> None: ...

    def after_fill(self, trade: Trade) -> None: ...


_listeners: list[FillListener] = []


def register(listener: FillListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def before_fill(order: Order) -> None:
    for listener in _listeners:
        listener.before_fill(order)


def after_fill(trade: Trade) -> None:
    for listener in _listeners:
        listener.after_fill(trade)
