import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet

ZERO = Decimal("0")


def money_field(**kwargs):
    return models.DecimalField(max_digits=30, decimal_places=12, **kwargs)


class OrderStatus(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"
    CANCELED = "canceled"
    REJECTED = "rejected"


class Order(models.Model):
    """The user's order as Amarktai sees it. ``client_order_id`` is unique: deterministic per (bot, signal) for bot
    orders, which is what makes placement exactly-once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    # The trading account (wallets.ExchangeCredential) it was placed on; None: the user's default account of the
    # platform (the per-user paper book, or the live keys get_exchange looked up) or placed before accounts existed.
    account = models.ForeignKey(
        "wallets.ExchangeCredential", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4)
    type = models.CharField(max_length=10)  # market, limit, stop, stop_limit
    amount = money_field()
    price = money_field(null=True, blank=True)
    # Order options (trading.exchanges.base.OrderOptions): a stop order's trigger, the time in force, a broker product.
    stop_price = money_field(null=True, blank=True)
    time_in_force = models.CharField(max_length=3, default="gtc")
    product = models.CharField(max_length=4, blank=True, default="")
    filled = money_field(default=ZERO)
    average = money_field(null=True, blank=True)
    fee = money_field(default=ZERO)
    fee_currency = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.OPEN, db_index=True)
    client_order_id = models.CharField(max_length=64, unique=True)
    exchange_order_id = models.CharField(max_length=128, blank=True)
    is_paper = models.BooleanField(default=True)
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self):
        return f"{self.side} {self.amount} {self.symbol} ({self.status})"


class Trade(models.Model):
    """A fill. Never edited: trades are the history P&L is computed from."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trades")
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="trades")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="trades")
    # The trading account (wallets.ExchangeCredential) it was placed on; None: the user's default account of the
    # platform (the per-user paper book, or the live keys get_exchange looked up) or placed before accounts existed.
    account = models.ForeignKey(
        "wallets.ExchangeCredential", null=True, blank=True, on_delete=models.SET_NULL, related_name="trades"
    )
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4)
    amount = money_field()
    price = money_field()
    fee = money_field(default=ZERO)
    fee_currency = models.CharField(max_length=16, blank=True)
    profit_loss = money_field(default=ZERO)
    is_paper = models.BooleanField(default=True)
    # What priced the fill: "simulated" (the offline feed), "live" (the exchange's public market data, paper trading)
    # or "exchange" (a real fill on the exchange). Empty for trades recorded before this was kept.
    price_source = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # GET /api/trades pages newest first on (created_at, id), by keyset (trading.selectors.trades_page): one
            # range scan of these however deep the page. tests/trading/test_query_plans.py checks the plans use them.
            models.Index(fields=["user", "-created_at", "-id"], name="trade_user_time"),
            models.Index(fields=["bot", "-created_at", "-id"], name="trade_bot_time"),
        ]

    def __str__(self):
        return f"{self.side} {self.amount} {self.symbol} @ {self.price}"


class TradeTally(models.Model):
    """Running totals of one book's trades, so /api/metrics and the trade list's ``total`` never count a user's whole
    history: one row per user and book (a bot and symbol, or the user's own trades of one symbol). Kept in step with
    every Trade row written (trading.tallies, from Trade's post_save, in the trade's transaction); rebuilt from the
    trades by ``manage.py rebuild_trade_tallies`` (after a bulk import that skipped save()).

    A deleted bot's rows keep their book and lose their bot (SET_NULL), exactly as its trades do: its trades then
    count as the user's own (bot-less) trades, in the tallies as in the trades."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    book = models.CharField(max_length=80)  # "bot:<bot id hex>:<symbol>" or "own:<symbol>" (trading.tallies.book_of)
    symbol = models.CharField(max_length=32)
    trades = models.PositiveBigIntegerField(default=0)
    buys = models.PositiveBigIntegerField(default=0)
    sells = models.PositiveBigIntegerField(default=0)
    closed = models.PositiveBigIntegerField(default=0, help_text="Sells that realised a profit or a loss (P&L != 0).")
    wins = models.PositiveBigIntegerField(default=0, help_text="Sells that realised a profit (P&L > 0).")
    realised_pnl = money_field(default=ZERO)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "book"], name="trade_tally_one_per_book")]

    def __str__(self):
        return f"{self.user_id} {self.book}: {self.trades} trades"


class Position(models.Model):
    """An open (or closed) long position. ``entry_fee`` carries the buy fees until the position is sold."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="positions")
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="positions")
    # The trading account (wallets.ExchangeCredential) it was placed on; None: the user's default account of the
    # platform (the per-user paper book, or the live keys get_exchange looked up) or placed before accounts existed.
    account = models.ForeignKey(
        "wallets.ExchangeCredential", null=True, blank=True, on_delete=models.SET_NULL, related_name="positions"
    )
    exchange = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    amount = money_field()
    entry_price = money_field()
    entry_fee = money_field(default=ZERO)
    stop_loss = money_field(null=True, blank=True)
    take_profit = money_field(null=True, blank=True)
    is_open = models.BooleanField(default=True, db_index=True)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    realised_pnl = money_field(default=ZERO)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One open position per bot (and account: a bot trading a group holds one on each account): the engine is
            # long-only, one position at a time.
            models.UniqueConstraint(
                fields=["bot"],
                condition=models.Q(is_open=True, account__isnull=True),
                name="one_open_position_per_bot",
            ),
            models.UniqueConstraint(
                fields=["bot", "account"],
                condition=models.Q(is_open=True, account__isnull=False),
                name="one_open_position_per_bot_account",
            ),
        ]

    def __str__(self):
        return f"{self.amount} {self.symbol} @ {self.entry_price}"


# --- The paper exchange's own records (trading/exchanges/paper.py) ----------------------------------------
class PaperBalance(models.Model):
    """One currency of one user's paper account on one platform. ``free`` + ``used`` is the total; ``used`` is reserved
    by open limit orders. Neither may go negative (a database check as well as the paper exchange's own rule).
    ``account`` None is the user's default paper book of the platform; a paper trading account
    (wallets.ExchangeCredential, trading_mode "paper") has rows of its own."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="paper_balances")
    account = models.ForeignKey(
        "wallets.ExchangeCredential", null=True, blank=True, on_delete=models.CASCADE, related_name="paper_balances"
    )
    platform = models.CharField(max_length=32)
    currency = models.CharField(max_length=16)
    free = models.DecimalField(max_digits=30, decimal_places=12, default=ZERO)
    used = models.DecimalField(max_digits=30, decimal_places=12, default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "platform", "currency"],
                condition=models.Q(account__isnull=True),
                name="uniq_paper_balance",
            ),
            models.UniqueConstraint(
                fields=["account", "currency"],
                condition=models.Q(account__isnull=False),
                name="uniq_paper_account_balance",
            ),
            models.CheckConstraint(
                condition=models.Q(free__gte=0) & models.Q(used__gte=0), name="paper_balance_non_negative"
            ),
        ]

    def __str__(self):
        return f"{self.user_id} {self.platform} {self.currency} {self.free}+{self.used}"

    @property
    def total(self):
        return self.free + self.used


class PaperOrder(models.Model):
    """An order on the paper exchange (the exchange's own record; the trading app keeps the user's Order)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="paper_orders")
    # None: the user's default paper book; else the paper trading account the order rests on.
    account = models.ForeignKey(
        "wallets.ExchangeCredential", null=True, blank=True, on_delete=models.CASCADE, related_name="paper_orders"
    )
    platform = models.CharField(max_length=32)
    client_order_id = models.CharField(max_length=64)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4)
    type = models.CharField(max_length=10)  # market, limit, stop, stop_limit
    amount = models.DecimalField(max_digits=30, decimal_places=12)
    price = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    stop_price = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    # A stop order whose trigger was reached: a stop_limit then rests as a limit order at ``price``.
    triggered = models.BooleanField(default=False)
    time_in_force = models.CharField(max_length=3, default="gtc")
    product = models.CharField(max_length=4, blank=True, default="")
    # A day order is canceled at this time (the session's close).
    expires_at = models.DateTimeField(null=True, blank=True)
    filled = models.DecimalField(max_digits=30, decimal_places=12, default=ZERO)
    average = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    cost = models.DecimalField(max_digits=30, decimal_places=12, default=ZERO)
    fee = models.DecimalField(max_digits=30, decimal_places=12, default=ZERO)
    fee_currency = models.CharField(max_length=16, blank=True)
    reserved = models.DecimalField(max_digits=30, decimal_places=12, default=ZERO)
    status = models.CharField(max_length=10, default="open", db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "platform", "client_order_id"],
                condition=models.Q(account__isnull=True),
                name="uniq_paper_client_order_id",
            ),
            models.UniqueConstraint(
                fields=["account", "client_order_id"],
                condition=models.Q(account__isnull=False),
                name="uniq_paper_account_client_order_id",
            ),
        ]
        indexes = [models.Index(fields=["user", "platform", "status"], name="wallets_pap_user_id_74ea52_idx")]

    def __str__(self):
        return f"{self.platform} {self.side} {self.amount} {self.symbol} ({self.status})"


# --- The platform-wide trading switch (trading/system.py) ---------------------------------------------------
class SystemStatus(models.TextChoices):
    RUNNING = "running"
    STOPPED = "stopped"


class SystemState(models.Model):
    """One row (pk 1): whether the bot engine and order placement run platform-wide. An admin's POST
    /api/system/stop writes it, so a restarted process reads it back and stays stopped. Read through trading.system
    (cached briefly), never directly."""

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON, editable=False)
    status = models.CharField(max_length=8, choices=SystemStatus.choices, default=SystemStatus.RUNNING)
    reason = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.EmailField(blank=True, help_text="The admin who last changed it.")
    restarts = models.PositiveIntegerField(default=0, help_text="How many times an admin restarted the engine.")

    def __str__(self):
        return f"trading {self.status}"
