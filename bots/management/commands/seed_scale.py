"""Generate a large, consistent data set for the latency benchmark (bench/bench_latency.py):

    manage.py seed_scale --users 10000 --bots 100000 --trades 1000000

Users, their bots, and trades with the order each filled: a book (a bot, or a user's own trades of one symbol)
alternates buy and sell, sells realise a profit or a loss, each bot's total_profit and current_capital are the sum of
its trades, a book that ends on a buy has its open position, and the running tallies (trading.tallies) are rebuilt at
the end. The first user (printed) is the heavy one: ``--heavy`` of all trades are theirs, so their trade list, deep
pages and metrics are what grows with the data. Rows go in by COPY on PostgreSQL and by bulk_create in batches
elsewhere (SQLite: fine at small sizes). Each run adds a new set of users (``scale-<tag>-<n>@example.com``).
"""

import random
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

MARKETS = [
    ("luno", "BTC/ZAR", Decimal("1200000")),
    ("luno", "ETH/ZAR", Decimal("60000")),
    ("luno", "SOL/ZAR", Decimal("2500")),
    ("binance", "BTC/USDT", Decimal("65000")),
    ("binance", "ETH/USDT", Decimal("3200")),
    ("kraken", "XRP/USD", Decimal("0.6")),
]
STATUSES = ["active", "active", "paused", "stopped", "created"]
STRATEGIES = ["momentum", "mean_reversion", "breakout"]
CENT = Decimal("0.01")


class Writer:
    """Inserts model instances: COPY on PostgreSQL (an order of magnitude faster than INSERT), else bulk_create."""

    def __init__(self, batch: int):
        self.batch = batch
        self.copy = connection.vendor == "postgresql"
        self.counts: dict[str, int] = {}

    def write(self, model, rows):
        if not rows:
            return
        self.counts[model.__name__] = self.counts.get(model.__name__, 0) + len(rows)
        if not self.copy:
            model.objects.bulk_create(rows, batch_size=self.batch)
            return
        fields = list(model._meta.concrete_fields)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
                # Plain attributes go as they are (psycopg adapts UUID, Decimal, datetime); auto_now and JSON fields
                # through Django's own preparation.
                slow = {
                    i
                    for i, f in enumerate(fields)
                    if getattr(f, "auto_now", False) or f.get_internal_type() == "JSONField"
                }
                names = [f.attname for f in fields]
                for obj in rows:
                    values = [getattr(obj, name) for name in names]
                    for i in slow:
                        values[i] = fields[i].get_db_prep_save(fields[i].pre_save(obj, True), connection)
                    copy.write_row(values)


class Command(BaseCommand):
    help = "Generate users, bots, orders and trades at scale for the latency benchmark (see bench/bench_latency.py)."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=100)
        parser.add_argument("--bots", type=int, default=1000)
        parser.add_argument("--trades", type=int, default=10000)
        parser.add_argument("--heavy", type=float, default=0.2, help="share of the trades owned by the first user")
        parser.add_argument("--own", type=float, default=0.05, help="share of trades without a bot (manual orders)")
        parser.add_argument("--days", type=int, default=365, help="the trades span this many days up to now")
        parser.add_argument("--batch", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable data apart from ids)")

    def handle(self, *args, **opts):
        users, bots, trades = opts["users"], opts["bots"], opts["trades"]
        if users < 1 or bots < 0 or trades < 0:
            raise CommandError("--users must be at least 1, --bots and --trades not negative")
        if not 0 <= opts["heavy"] <= 1 or not 0 <= opts["own"] <= 1:
            raise CommandError("--heavy and --own are shares between 0 and 1")
        started = time.monotonic()
        self.verbosity = opts["verbosity"]
        self.rng = random.Random(opts["seed"])
        self.writer = Writer(opts["batch"])
        self.tag = uuid.uuid4().hex[:8]
        with transaction.atomic():
            user_ids = self._users(users)
            bot_rows = self._bots(user_ids, bots)
            self._trades(user_ids, bot_rows, trades, opts)
        from trading.tallies import rebuild

        for start in range(0, len(user_ids), 2000):
            rebuild(user_ids[start : start + 2000])
        if connection.vendor == "postgresql":
            # Planner statistics, and (outside a transaction) the visibility map autovacuum would set in time, so the
            # planner sees the tables as a running system has them.
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cursor:
                for table in ("accounts_user", "bots_bot", "trading_order", "trading_trade", "trading_position"):
                    cursor.execute(f"{command} {table}")
                cursor.execute("ANALYZE trading_tradetally")
        counts = ", ".join(f"{n} {name}" for name, n in self.writer.counts.items())
        self.stdout.write(f"seeded {counts} in {time.monotonic() - started:.1f} s (tag {self.tag})")
        self.stdout.write(f"heavy user: {self._email(0)}")

    def _email(self, i: int) -> str:
        return f"scale-{self.tag}-{i}@example.com"

    def _users(self, n: int) -> list:
        from accounts.models import User

        password = make_password(None)  # unusable: these accounts cannot sign in
        now = timezone.now()
        ids = []
        for start in range(0, n, self.writer.batch):
            rows = []
            for i in range(start, min(n, start + self.writer.batch)):
                user = User(
                    email=self._email(i),
                    first_name=f"Scale {i}",
                    password=password,
                    created_at=now - timedelta(seconds=n - i),
                )
                ids.append(user.id)
                rows.append(user)
            self.writer.write(User, rows)
        return ids

    def _bots(self, user_ids: list, n: int) -> list[dict]:
        """Bot i belongs to user i mod users. Returns the bots as dicts (id, user index, market)."""
        from bots.models import Bot

        out, rows = [], []
        now = timezone.now()
        for i in range(n):
            owner = i % len(user_ids)
            exchange, symbol, price = MARKETS[i % len(MARKETS)]
            bot = Bot(
                user_id=user_ids[owner],
                name=f"Scale bot {i}",
                exchange=exchange,
                symbol=symbol,
                status=STATUSES[i % len(STATUSES)],
                strategy=STRATEGIES[i % len(STRATEGIES)],
                initial_capital=Decimal("10000"),
                current_capital=Decimal("10000"),
                created_at=now - timedelta(seconds=n - i),
            )
            out.append({"id": bot.id, "owner": owner, "exchange": exchange, "symbol": symbol, "price": price})
            rows.append(bot)
            if len(rows) >= self.writer.batch:
                self.writer.write(Bot, rows)
                rows = []
        self.writer.write(Bot, rows)
        return out

    def _trades(self, user_ids: list, bot_rows: list[dict], n: int, opts: dict) -> None:
        from bots.models import Bot
        from trading.models import Order, Position, Trade

        rng = self.rng
        by_owner: dict[int, list[dict]] = {}
        for bot in bot_rows:
            by_owner.setdefault(bot["owner"], []).append(bot)
        # Per book: (side of the last trade, amount of the open buy, its price).
        books: dict[tuple, dict] = {}
        profit: dict = {}
        end = timezone.now() - timedelta(seconds=1)
        span = timedelta(days=opts["days"]).total_seconds()
        step = span / max(n, 1)
        orders, trades = [], []
        for t in range(n):
            owner = 0 if len(user_ids) == 1 or rng.random() < opts["heavy"] else rng.randrange(1, len(user_ids))
            mine = by_owner.get(owner)
            if mine and rng.random() >= opts["own"]:
                bot = mine[rng.randrange(len(mine))]
                key, exchange, symbol, base = ("bot", bot["id"]), bot["exchange"], bot["symbol"], bot["price"]
                bot_id = bot["id"]
            else:
                exchange, symbol, base = MARKETS[rng.randrange(len(MARKETS))]
                key, bot_id = ("own", owner, exchange, symbol), None
            book = books.get(key)
            created_at = end - timedelta(seconds=span - t * step)
            price = (base * Decimal(rng.randint(9000, 11000)) / 10000).quantize(CENT)
            if book is None or book["side"] == "sell":
                side, amount, pnl = "buy", (Decimal(rng.randint(1, 1000)) / 10000), Decimal("0")
            else:
                side, amount = "sell", book["amount"]
                pnl = Decimal(rng.randint(-4000, 5000)) / 100
                if rng.random() < 0.05:
                    pnl = Decimal("0")  # a break-even sell: closed but neither a win nor a loss
            fee = (amount * price / 1000).quantize(Decimal("0.00000001"))
            books[key] = {
                "side": side,
                "amount": amount,
                "price": price,
                "user": user_ids[owner],
                "bot": bot_id,
                "exchange": exchange,
                "symbol": symbol,
                "at": created_at,
            }
            if bot_id is not None and pnl:
                profit[bot_id] = profit.get(bot_id, Decimal("0")) + pnl
            order = Order(
                user_id=user_ids[owner],
                bot_id=bot_id,
                exchange=exchange,
                symbol=symbol,
                side=side,
                type="market",
                amount=amount,
                filled=amount,
                average=price,
                fee=fee,
                status="closed",
                client_order_id=f"seed-{uuid.uuid4().hex}",
                reason="seed_scale",
                created_at=created_at,
            )
            orders.append(order)
            trades.append(
                Trade(
                    user_id=user_ids[owner],
                    bot_id=bot_id,
                    order_id=order.id,
                    exchange=exchange,
                    symbol=symbol,
                    side=side,
                    amount=amount,
                    price=price,
                    fee=fee,
                    profit_loss=pnl,
                    price_source="simulated",
                    created_at=created_at,
                )
            )
            if len(trades) >= self.writer.batch:
                self.writer.write(Order, orders)
                self.writer.write(Trade, trades)
                orders, trades = [], []
                if self.verbosity > 1:
                    self.stdout.write(f"  {t + 1} trades")
        self.writer.write(Order, orders)
        self.writer.write(Trade, trades)
        # Open positions: every book whose last trade is a buy.
        positions = [
            Position(
                user_id=b["user"],
                bot_id=b["bot"],
                exchange=b["exchange"],
                symbol=b["symbol"],
                amount=b["amount"],
                entry_price=b["price"],
                opened_at=b["at"],
            )
            for b in books.values()
            if b["side"] == "buy"
        ]
        for start in range(0, len(positions), self.writer.batch):
            self.writer.write(Position, positions[start : start + self.writer.batch])
        # The bots' booked P&L: what their trades realised.
        if connection.vendor == "postgresql":  # one statement instead of a CASE per row (fresh bots: nothing cached)
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE bots_bot SET total_profit = v.p, current_capital = bots_bot.initial_capital + v.p "
                    "FROM unnest(%s::uuid[], %s::numeric[]) AS v(id, p) WHERE bots_bot.id = v.id",
                    [list(profit), list(profit.values())],
                )
            return
        changed = [Bot(id=bot_id, total_profit=p, current_capital=Decimal("10000") + p) for bot_id, p in profit.items()]
        Bot.objects.bulk_update(changed, ["total_profit", "current_capital"], batch_size=1000)
