"""Response shapes of account groups and group orders (API, events, assistant)."""

from decimal import Decimal

from amarktai.utils import iso, money
from mirror.models import AccountGroup, ChildState, GroupMember, GroupOrder, GroupOrderChild
from wallets.models import ExchangeCredential


def account_label(account: ExchangeCredential | None) -> str:
    if account is None:
        return "(removed account)"
    return f"{account.label or account.platform} ({account.platform})"[:80]


def member_payload(member: GroupMember) -> dict:
    return {
        "id": str(member.id),
        "account_id": str(member.account_id),
        "account_label": account_label(member.account),
        "exchange": member.account.platform,
        "is_primary": member.is_primary,
        "multiplier": money(member.multiplier),
        "fixed_amount": money(member.fixed_amount),
        "max_order_value": money(member.max_order_value),
        "enabled": member.enabled,
    }


def group_payload(group: AccountGroup, members: list[GroupMember] | None = None) -> dict:
    members = members if members is not None else list(group.members.all())
    return {
        "id": str(group.id),
        "name": group.name,
        "enabled": group.enabled,
        "members": [member_payload(m) for m in members],
        "created_at": iso(group.created_at),
    }


def child_status(child: GroupOrderChild) -> str:
    """What one account's child did: its order's status once placed (open, closed, canceled, rejected), else
    pending, failed or skipped."""
    if child.state == ChildState.PLACED and child.order is not None:
        return child.order.status
    return child.state


def child_payload(child: GroupOrderChild, group_order: GroupOrder) -> dict:
    order = child.order if child.state == ChildState.PLACED else None
    return {
        "id": str(child.id),
        "group_order_id": str(child.group_order_id),
        "account_id": str(child.account_id) if child.account_id else None,
        "account_label": child.account_label,
        "exchange": child.exchange,
        "is_primary": child.is_primary,
        "slice": child.slice_index,
        "symbol": group_order.symbol,
        "side": group_order.side,
        "type": group_order.type,
        "amount": money(child.amount),
        "status": child_status(child),
        "filled": money(order.filled) if order else 0.0,
        "average": money(order.average) if order else None,
        "fee": money(order.fee) if order else 0.0,
        "order_id": str(order.id) if order else None,
        "client_order_id": child.client_order_id,
        "error": child.error or None,
        "error_code": child.error_code or None,
        "updated_at": iso(child.updated_at),
    }


def group_status(statuses: list[str]) -> str:
    """The logical order's status from its children's: working while any is pending or open; filled when every one
    closed; partial when some closed and others failed, were skipped or canceled; failed when none filled."""
    if not statuses:
        return "failed"
    if any(s in ("pending", "open") for s in statuses):
        return "working"
    if all(s == "closed" for s in statuses):
        return "filled"
    if any(s == "closed" for s in statuses):
        return "partial"
    return "failed"


def group_order_payload(group_order: GroupOrder, children: list[GroupOrderChild] | None = None) -> dict:
    children = children if children is not None else list(group_order.children.all())
    rows = [child_payload(c, group_order) for c in children]
    filled = sum((c.order.filled for c in children if c.state == ChildState.PLACED and c.order), Decimal("0"))
    return {
        "id": str(group_order.id),
        "group_id": str(group_order.group_id) if group_order.group_id else None,
        "group_name": group_order.group_name,
        "bot_id": str(group_order.bot_id) if group_order.bot_id else None,
        "symbol": group_order.symbol,
        "side": group_order.side,
        "type": group_order.type,
        "amount": money(group_order.amount),
        "price": money(group_order.price),
        "all_or_nothing": group_order.all_or_nothing,
        "status": group_status([r["status"] for r in rows]),
        "filled": money(filled),
        "accounts_filled": sorted({r["account_label"] for r in rows if r["status"] == "closed"}),
        "accounts_failed": sorted(
            {r["account_label"] for r in rows if r["status"] in ("failed", "skipped", "rejected")}
        ),
        "children": rows,
        "reason": group_order.reason,
        "created_at": iso(group_order.created_at),
    }
