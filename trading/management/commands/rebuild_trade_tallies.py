"""Recount the running trade tallies (trading.models.TradeTally) from the trades: after a bulk import that skipped
save(), or to check them (``--check`` reports the users whose tallies differ and changes nothing)."""

from django.core.management.base import BaseCommand, CommandError

from trading import tallies
from trading.models import Trade, TradeTally


def _sums(rows):
    out = {}
    for user_id, bot_id, symbol, figures in rows:
        key = (user_id, bot_id, symbol)
        acc = out.setdefault(key, [0, 0, 0, 0, 0, 0])
        for i, value in enumerate(figures):
            acc[i] += value
    return {k: v for k, v in out.items() if v[0]}


class Command(BaseCommand):
    help = "Rebuild the running trade tallies from the trades (all users, or --user <id> ...); --check only compares."

    def add_arguments(self, parser):
        parser.add_argument("--user", action="append", dest="users", help="only this user id (repeatable)")
        parser.add_argument("--check", action="store_true", help="compare with a recount, change nothing")

    def handle(self, *args, users=None, check=False, **opts):
        if check:
            counted = tallies.recount(Trade, users)
            fields = ("trades", "buys", "sells", "closed", "wins", "realised_pnl")
            fresh = _sums((u, f["bot_id"], f["symbol"], [f[x] for x in fields]) for (u, _), f in counted.items())
            kept_rows = TradeTally.objects.all() if users is None else TradeTally.objects.filter(user_id__in=users)
            kept = _sums((r.user_id, r.bot_id, r.symbol, [getattr(r, x) for x in fields]) for r in kept_rows)
            differ = sorted({str(k[0]) for k in set(fresh) | set(kept) if fresh.get(k) != kept.get(k)})
            if differ:
                raise CommandError(
                    f"tallies differ from the trades for {len(differ)} user(s): {', '.join(differ[:20])}"
                )
            self.stdout.write(f"tallies match the trades ({len(fresh)} books)")
            return
        written = tallies.rebuild(users)
        self.stdout.write(f"rebuilt {written} tallies")
