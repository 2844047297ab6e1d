"""Account groups and mirrored orders.

A group order is planned once and executed child by child:

- plan (``place_group_order``): for each enabled member (the primary first) its account's market is read, the amount
  sized (the primary's amount; a follower's fixed size or the primary's x its multiplier), rounded down to the
  market's step and lots (mirror.sizing), capped by the member's maximum order value, split at the market's freeze
  quantity, and the funds it needs (fees included) checked against the account's free balance. Accounts that are
  short, below the market's minimum or cannot be reached get a skipped (or failed) child with the reason; with
  ``all_or_nothing`` any of those refuses the whole order (InsufficientFunds, nothing written or sent).
- execute (``execute_group_order``, also the Celery task): every pending child is locked, placed through
  trading.services.place_order with its deterministic client order id, and marked placed or failed. A retried or
  concurrent execution waits for the lock and finds the child placed: nothing is sent twice. One account's failure
  never stops the others.
"""

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from amarktai.errors import AmarktaiError, Conflict, InsufficientFunds, NotFound, ValidationFailed
from amarktai.utils import iso_now, money
from mirror import selectors, sizing
from mirror.models import AccountGroup, ChildState, GroupMember, GroupOrder, GroupOrderChild
from mirror.payloads import account_label, group_order_payload
from realtime import events
from trading import fillmodel
from trading import services as trading
from trading.exchanges import get_exchange
from trading.exchanges.base import Exchange
from wallets.models import ExchangeCredential

logger = logging.getLogger(__name__)
ZERO = Decimal("0")
MEMBER_FIELDS = ("multiplier", "fixed_amount", "max_order_value", "enabled")


# --- groups ------------------------------------------------------------------------------------------------
def create_group(user: Any, *, name: str, primary_account_id: Any, enabled: bool = True) -> AccountGroup:
    account = selectors.access_account(user, primary_account_id)
    try:
        with transaction.atomic():
            group = AccountGroup.objects.create(user=user, name=name, enabled=enabled)
            GroupMember.objects.create(user=user, group=group, account=account, is_primary=True)
    except IntegrityError:
        raise Conflict("you already have a group with this name", details={"name": ["already used"]}) from None
    return group


def update_group(user: Any, group_id: Any, changes: dict) -> AccountGroup:
    with transaction.atomic():
        group = selectors.access_group(user, group_id, lock=True)
        if "name" in changes:
            group.name = changes["name"]
        if "enabled" in changes:
            group.enabled = changes["enabled"]
        if "primary_account_id" in changes:
            account = selectors.access_account(user, changes["primary_account_id"])
            group.members.filter(is_primary=True).exclude(account=account).update(is_primary=False)
            member, _ = GroupMember.objects.get_or_create(user=user, group=group, account=account)
            member.is_primary, member.multiplier, member.fixed_amount = True, Decimal("1"), None
            member.save(update_fields=["is_primary", "multiplier", "fixed_amount"])
        try:
            with transaction.atomic():
                group.save()
        except IntegrityError:
            raise Conflict("you already have a group with this name", details={"name": ["already used"]}) from None
    return group


def delete_group(user: Any, group_id: Any) -> None:
    selectors.access_group(user, group_id).delete()


def add_member(user: Any, group_id: Any, *, account_id: Any, **fields: Any) -> GroupMember:
    group = selectors.access_group(user, group_id)
    account = selectors.access_account(user, account_id)
    _check_member_fields(fields)
    try:
        with transaction.atomic():
            return GroupMember.objects.create(
                user=user, group=group, account=account, **{k: v for k, v in fields.items() if k in MEMBER_FIELDS}
            )
    except IntegrityError:
        raise Conflict("this account is already in the group", details={"account_id": ["already a member"]}) from None


def update_member(user: Any, group_id: Any, member_id: Any, changes: dict) -> GroupMember:
    member = selectors.access_member(user, group_id, member_id)
    _check_member_fields(changes)
    if member.is_primary and ({"multiplier", "fixed_amount"} & set(changes)):
        raise ValidationFailed(
            "the primary trades the order's own size: give it no multiplier or fixed size",
            details={"multiplier": ["not for the primary"]},
        )
    for key in MEMBER_FIELDS:
        if key in changes:
            setattr(member, key, changes[key])
    member.save()
    return member


def remove_member(user: Any, group_id: Any, member_id: Any) -> None:
    member = selectors.access_member(user, group_id, member_id)
    if member.is_primary:
        raise ValidationFailed(
            "the primary cannot leave its group: make another account the primary first",
            details={"member": ["primary"]},
        )
    member.delete()


def _check_member_fields(fields: dict) -> None:
    if fields.get("multiplier") is not None and fields["multiplier"] <= 0:
        raise ValidationFailed("multiplier must be positive", details={"multiplier": ["must be > 0"]})
    if fields.get("fixed_amount") is not None and fields["fixed_amount"] <= 0:
        raise ValidationFailed("fixed_amount must be positive", details={"fixed_amount": ["must be > 0"]})


# --- accounts as exchanges -------------------------------------------------------------------------------------
def account_is_paper(account: ExchangeCredential) -> bool:
    """Whether an account trades on the paper exchange (a paper account) rather than live with its keys."""
    return bool(account.is_paper)


def account_exchange(account: ExchangeCredential) -> Exchange:
    """The exchange an account trades on: its platform with its own keys (live), or its own paper book (a paper
    account). Orders placed through it record the account (Order.account)."""
    return get_exchange(account.user, account.platform, account.trading_mode, credential=account)


# --- planning ------------------------------------------------------------------------------------------------
class _Plan:
    def __init__(self, member: GroupMember) -> None:
        self.member = member
        self.slices: list[Decimal] = []
        self.state: str = ChildState.PENDING
        self.error = ""
        self.error_code = ""

    def skip(self, state: str, message: str, code: str) -> None:
        self.state, self.error, self.error_code = state, message[:255], code


def _plan_member(
    member: GroupMember, *, symbol: str, side: str, type: str, amount: Decimal, price: Decimal | None
) -> _Plan:
    plan = _Plan(member)
    account = member.account
    try:
        exchange = account_exchange(account)
        market = exchange.load_markets().get(symbol.upper())
        if market is None:
            plan.skip(ChildState.SKIPPED, f"{account.platform} has no market {symbol}", "UNKNOWN_MARKET")
            return plan
        if member.is_primary:
            size = sizing.round_amount(amount, market)
        else:
            size = sizing.follower_amount(amount, market, member.multiplier, member.fixed_amount)
        reference = price
        if reference is None:
            ticker = exchange.fetch_ticker(market["symbol"])
            reference = ticker.get("ask" if side == "buy" else "bid") or ticker.get("last")
        reference = Decimal(str(reference))
        size = sizing.cap_to_value(size, reference, member.max_order_value, market)
        if size <= 0 or (market.get("min_amount") and size < market["min_amount"]):
            plan.skip(
                ChildState.SKIPPED,
                f"{size.normalize():f} {market['base']} is below the market's smallest order after rounding",
                "BELOW_MINIMUM",
            )
            return plan
        plan.slices = sizing.split(size, sizing.freeze_quantity(market, type), market)
        _maker, taker = fillmodel.fee_rates(account.platform)
        currency, need = sizing.required_funds(side, size, reference, taker, market["base"], market["quote"])
        free = Decimal(str((exchange.fetch_balance().get(currency) or {}).get("free") or 0))
        if free < need:
            plan.skip(
                ChildState.SKIPPED,
                f"insufficient funds: needs {need.normalize():f} {currency} (fees included), has {free.normalize():f}",
                "INSUFFICIENT_FUNDS",
            )
    except AmarktaiError as exc:
        plan.skip(ChildState.FAILED, exc.message, exc.error_code)
    except Exception as exc:  # an adapter's unexpected failure is this account's, never the others'
        logger.warning("group order: could not check account %s", account.pk, exc_info=True)
        plan.skip(ChildState.FAILED, f"could not reach {account.platform}: {exc.__class__.__name__}", "PROVIDER_ERROR")
    return plan


def place_group_order(user: Any, group_id: Any, **order: Any) -> GroupOrder:
    """Send one order to every enabled account of a group (see the module docstring): plan_group_order's arguments,
    then execute_group_order. ``client_order_id`` (the client's id, or a bot's deterministic one) makes it safe to
    retry: the same id returns the same group order (and finishes placing whatever it had not placed yet)."""
    return execute_group_order(plan_group_order(user, group_id, **order).pk)


def plan_group_order(
    user: Any,
    group_id: Any,
    *,
    symbol: str,
    side: str,
    type: str = "market",
    amount: Decimal,
    price: Decimal | None = None,
    all_or_nothing: bool = False,
    client_order_id: str | None = None,
    bot: Any = None,
    reason: str = "",
) -> GroupOrder:
    """The group order and its children, written but not sent (execute_group_order sends them). An existing group
    order with the same ``client_order_id`` is returned as it is."""
    group = selectors.access_group(user, group_id)
    if type == "limit" and price is None:
        raise ValidationFailed("a limit order needs a price", details={"price": ["required"]})
    price = price if type == "limit" else None
    key = trading.client_order_id("group", user.pk, client_order_id) if client_order_id else None
    if key is not None:
        existing = GroupOrder.objects.owned_by(user).filter(client_key=key).first()
        if existing is not None:
            same = (
                str(existing.group_id) == str(group.pk)
                and (existing.symbol, existing.side, existing.type) == (symbol.upper(), side, type)
                and existing.amount == Decimal(str(amount))
                and existing.price == price
            )
            if not same:
                raise Conflict(
                    "client_order_id was already used for a different group order",
                    details={"client_order_id": ["already used for a different order"]},
                )
            return existing
    if not group.enabled:
        raise ValidationFailed("this group is disabled", details={"group": ["disabled"]})
    members = [m for m in selectors.group_members(group) if m.enabled]
    if not members:
        raise ValidationFailed("this group has no enabled account", details={"group": ["no enabled account"]})
    plans = [_plan_member(m, symbol=symbol, side=side, type=type, amount=amount, price=price) for m in members]
    short = [p for p in plans if p.state != ChildState.PENDING]
    if all_or_nothing and short:
        raise InsufficientFunds(
            "all-or-nothing: not every account can take this order, so none was sent",
            details={account_label(p.member.account): [p.error] for p in short},
        )
    with transaction.atomic():
        group_order = GroupOrder.objects.create(
            user=user,
            group=group,
            group_name=group.name,
            bot=bot,
            symbol=symbol.upper(),
            side=side,
            type=type,
            amount=amount,
            price=price,
            all_or_nothing=all_or_nothing,
            client_key=key or trading.client_order_id("group", user.pk, iso_now(), symbol, side, amount, group.pk),
            reason=reason[:255],
        )
        for plan in plans:
            _write_children(group_order, plan)
    return group_order


def _write_children(group_order: GroupOrder, plan: _Plan) -> None:
    account = plan.member.account
    common = {
        "user_id": group_order.user_id,
        "group_order": group_order,
        "account": account,
        "account_label": account_label(account),
        "exchange": account.platform,
        "is_primary": plan.member.is_primary,
    }
    if plan.state != ChildState.PENDING:
        child = GroupOrderChild.objects.create(
            **common,
            amount=ZERO,
            state=plan.state,
            error=plan.error,
            error_code=plan.error_code,
            client_order_id=trading.client_order_id("group", group_order.client_key, account.pk, "x"),
        )
        _publish_unplaced(child, group_order)
        return
    for index, part in enumerate(plan.slices):
        GroupOrderChild.objects.create(
            **common,
            slice_index=index,
            amount=part,
            client_order_id=trading.client_order_id("group", group_order.client_key, account.pk, index),
        )


# --- execution -----------------------------------------------------------------------------------------------
def execute_group_order(group_order_id: Any) -> GroupOrder:
    """Place every pending child of a group order, each exactly once (the Celery task and a retried request call it).
    Returns the group order."""
    group_order = GroupOrder.objects.filter(pk=group_order_id).first()
    if group_order is None:
        raise NotFound("Group order not found")
    pending = list(
        group_order.children.filter(state=ChildState.PENDING)
        .order_by("-is_primary", "created_at", "slice_index")
        .values_list("pk", flat=True)
    )
    for child_id in pending:
        _place_child(group_order, child_id)
    if pending:
        children = selectors.group_order_children(group_order)
        events.publish(
            group_order.user_id, events.GROUP_ORDER_UPDATE, {"group_order": group_order_payload(group_order, children)}
        )
    return group_order


def resume_pending(older_than_seconds: int = 60, limit: int = 100) -> int:
    """Finish group orders left with pending children (a process died between planning and placing): each is executed
    again, which places only what was not placed. Returns how many group orders were resumed (the beat task)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        GroupOrderChild.objects.filter(state=ChildState.PENDING, created_at__lt=cutoff)
        .order_by("group_order_id")
        .values_list("group_order_id", flat=True)
        .distinct()[:limit]
    )
    for group_order_id in ids:
        try:
            execute_group_order(group_order_id)
        except Exception:  # one group order's trouble never stops the others
            logger.warning("could not resume group order %s", group_order_id, exc_info=True)
    return len(ids)


def _place_child(group_order: GroupOrder, child_id: Any) -> None:
    with transaction.atomic():
        child = GroupOrderChild.objects.select_for_update().filter(pk=child_id).first()
        if child is None or child.state != ChildState.PENDING:
            return  # another worker placed (or settled) it while this one waited for the lock
        account = (
            ExchangeCredential.objects.select_related("user").filter(pk=child.account_id).first()
            if child.account_id
            else None
        )
        try:
            if account is None:
                raise NotFound("the account was removed before its order was sent")
            with transaction.atomic():
                order = trading.place_order(
                    account.user,
                    account_exchange(account),
                    symbol=group_order.symbol,
                    side=group_order.side,
                    type=group_order.type,
                    amount=child.amount,
                    price=group_order.price,
                    bot=group_order.bot,
                    cid=child.client_order_id,
                    reason=f"group {group_order.group_name}: {child.account_label}",
                    is_paper=account_is_paper(account),
                )
            child.state, child.order = ChildState.PLACED, order
        except AmarktaiError as exc:
            child.state, child.error, child.error_code = ChildState.FAILED, exc.message[:255], exc.error_code
        except Exception as exc:  # one account's failure never stops the others
            logger.warning("group order %s: child %s failed", group_order.pk, child.pk, exc_info=True)
            child.state = ChildState.FAILED
            child.error, child.error_code = f"{child.exchange} failed: {exc.__class__.__name__}", "PROVIDER_ERROR"
        child.save(update_fields=["state", "order", "error", "error_code", "updated_at"])
        if child.state != ChildState.PLACED:
            _publish_unplaced(child, group_order)


def _publish_unplaced(child: GroupOrderChild, group_order: GroupOrder) -> None:
    """order_update for a child that never reached the exchange (skipped or failed): order-shaped, status rejected,
    the reason in ``reason``, and which account and group order it was."""
    payload = {
        "id": str(child.id),
        "bot_id": str(group_order.bot_id) if group_order.bot_id else None,
        "parent_id": None,
        "exchange": child.exchange,
        "symbol": group_order.symbol,
        "side": group_order.side,
        "type": group_order.type,
        "amount": money(child.amount),
        "price": money(group_order.price),
        "filled": 0.0,
        "average": None,
        "fee": 0.0,
        "status": "rejected",
        "client_order_id": child.client_order_id,
        "reason": f"{child.state}: {child.error}",
        "account_id": str(child.account_id) if child.account_id else None,
        "account_label": child.account_label,
        "group_order_id": str(group_order.id),
        "created_at": iso_now(),
        "updated_at": iso_now(),
    }
    events.publish(group_order.user_id, events.ORDER_UPDATE, {"order": payload, "previous_status": None})
