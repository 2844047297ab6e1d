from django.apps import AppConfig


class MirrorConfig(AppConfig):
    """Account groups and mirrored orders: one primary trading account and its followers; a group order is one
    logical order with a child order per account (sized by multiplier or fixed size, rounded to the market, split at
    its freeze quantity, funds checked first). Sits above wallets (whose ExchangeCredential is an account) and below
    bots (a bot may trade a group)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "mirror"
