"""Create (idempotently) a demo user with three active paper bots on the simulated feed, tuned to trade within a minute
or two, and print the login."""

from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create the demo user and three paper bots (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        from accounts.models import User
        from bots.models import Bot, BotStatus
        from bots.services import create_bot

        email, password = settings.DEMO_EMAIL, settings.DEMO_PASSWORD
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password, first_name="Demo")
            created = True
        else:
            created = False
        bots = [
            # Fast EMAs on one-minute candles: crossings come every few minutes.
            {
                "name": "Alpha Trader",
                "exchange": "luno",
                "symbol": "BTC/ZAR",
                "strategy": "momentum",
                "risk_mode": "balanced",
                "initial_capital": Decimal("50000"),
                "params": {"fast": 2, "slow": 3},
            },
            {
                "name": "Beta Reverter",
                "exchange": "binance",
                "symbol": "ETH/USDT",
                "strategy": "mean_reversion",
                "risk_mode": "safe",
                "initial_capital": Decimal("5000"),
                "params": {"period": 10, "entry_z": 0.1, "exit_z": 0.1},
            },
            # Dips, rallies and turns: between the three, most minutes give one of them an entry.
            {
                "name": "Gamma Breakout",
                "exchange": "luno",
                "symbol": "SOL/ZAR",
                "strategy": "breakout",
                "risk_mode": "balanced",
                "initial_capital": Decimal("20000"),
                "params": {"lookback": 2, "volume_threshold": 0.3},
            },
        ]
        for spec in bots:
            if not Bot.objects.filter(user=user, name=spec["name"]).exists():
                bot = create_bot(user, **spec)
                Bot.objects.filter(pk=bot.pk).update(status=BotStatus.ACTIVE)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: {email} / {password if created or settings.DEMO_PASSWORD_CHOSEN else '(unchanged)'}"
            )
        )
