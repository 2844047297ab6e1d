from collections import defaultdict
from decimal import Decimal

from trading.models import Trade, TradeTally


def _sum(rows):
    out = defaultdict(lambda: [0, 0, 0, 0, 0, Decimal("0")])
    for key, figures in rows:
        acc = out[key]
        for i, value in enumerate(figures):
            acc[i] += value
    return dict(out)


def assert_tallies_match():
    """The running tallies equal a recount from the trades, per (user, bot, symbol)."""
    counted = _sum(
        (
            (t.user_id, t.bot_id, t.symbol),
            (
                1,
                t.side == "buy",
                t.side == "sell",
                t.side == "sell" and t.profit_loss != 0,
                t.side == "sell" and t.profit_loss > 0,
                t.profit_loss,
            ),
        )
        for t in Trade.objects.all()
    )
    kept = _sum(
        ((r.user_id, r.bot_id, r.symbol), (r.trades, r.buys, r.sells, r.closed, r.wins, r.realised_pnl))
        for r in TradeTally.objects.all()
    )
    counted = {k: [int(v) for v in fig[:5]] + [fig[5]] for k, fig in counted.items()}
    kept = {k: [int(v) for v in fig[:5]] + [fig[5]] for k, fig in kept.items() if fig[0]}
    assert kept == counted
