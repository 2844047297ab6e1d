"""Account groups (a primary account and followers) and group orders (one logical order, a child per account and
slice). An account is a ``wallets.ExchangeCredential``."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet


def amount_field(**kwargs):
    return models.DecimalField(max_digits=30, decimal_places=12, **kwargs)


class AccountGroup(models.Model):
    """A named set of accounts traded together. Exactly one member is the primary (``GroupMember.is_primary``); a
    disabled group places nothing."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_groups")
    name = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="mirror_group_name_per_user")]

    def __str__(self):
        return self.name


class GroupMember(models.Model):
    """One account of a group. A follower trades ``fixed_amount`` when set, else the primary's amount x
    ``multiplier``; ``max_order_value`` (quote currency) caps each of its orders; a disabled member is left out."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(AccountGroup, on_delete=models.CASCADE, related_name="members")
    account = models.ForeignKey("wallets.ExchangeCredential", on_delete=models.CASCADE, related_name="group_members")
    is_primary = models.BooleanField(default=False)
    multiplier = amount_field(default=Decimal("1"))
    fixed_amount = amount_field(null=True, blank=True)
    max_order_value = amount_field(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-is_primary", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["group", "account"], name="mirror_member_once_per_group"),
            models.UniqueConstraint(
                fields=["group"], condition=models.Q(is_primary=True), name="mirror_one_primary_per_group"
            ),
        ]

    def __str__(self):
        return f"{self.group_id} {self.account_id} x{self.multiplier}"


class GroupOrder(models.Model):
    """One logical order sent to a group: what was asked. Its children say what each account did."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_orders")
    group = models.ForeignKey(AccountGroup, null=True, on_delete=models.SET_NULL, related_name="orders")
    group_name = models.CharField(max_length=64)
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4)
    type = models.CharField(max_length=10)
    amount = amount_field()
    price = amount_field(null=True, blank=True)
    all_or_nothing = models.BooleanField(default=False)
    # Deterministic: a retried request or task with the same key finds this row (and its children) again.
    client_key = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="mirror_group_order_user_time")]

    def __str__(self):
        return f"{self.side} {self.amount} {self.symbol} to {self.group_name}"


class ChildState(models.TextChoices):
    PENDING = "pending"  # planned, not sent yet
    PLACED = "placed"  # sent: its trading Order says how it went (open, closed, canceled, rejected)
    FAILED = "failed"  # the exchange refused it or could not be reached
    SKIPPED = "skipped"  # never sent: short of funds, below the market's minimum, ...


class GroupOrderChild(models.Model):
    """One account's part (one slice when split at the freeze quantity) of a group order. ``client_order_id`` is
    derived from the group order, the account and the slice, so it is placed at most once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    group_order = models.ForeignKey(GroupOrder, on_delete=models.CASCADE, related_name="children")
    account = models.ForeignKey("wallets.ExchangeCredential", null=True, on_delete=models.SET_NULL, related_name="+")
    account_label = models.CharField(max_length=80)
    exchange = models.CharField(max_length=32)
    is_primary = models.BooleanField(default=False)
    slice_index = models.PositiveSmallIntegerField(default=0)
    amount = amount_field()
    state = models.CharField(max_length=8, choices=ChildState.choices, default=ChildState.PENDING)
    error = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    client_order_id = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey("trading.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-is_primary", "created_at", "slice_index"]

    def __str__(self):
        return f"{self.account_label} {self.amount} ({self.state})"
