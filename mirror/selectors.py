"""Reads over account groups and group orders (owner-scoped; another user's id is a 404)."""

from typing import Any

from django.db.models import Prefetch

from amarktai.tenancy import access
from mirror.models import AccountGroup, GroupMember, GroupOrder, GroupOrderChild
from trading.services import client_order_id as derive
from wallets.models import ExchangeCredential


def access_group(user: Any, group_id: Any, *, lock: bool = False) -> AccountGroup:
    return access(AccountGroup.objects, user, group_id, "Account group", lock=lock)


def access_member(user: Any, group_id: Any, member_id: Any) -> GroupMember:
    member = access(GroupMember.objects.select_related("account", "group"), user, member_id, "Group member")
    if str(member.group_id) != str(group_id):
        access(GroupMember.objects.none(), user, member_id, "Group member")  # raises NotFound
    return member


def access_account(user: Any, account_id: Any) -> ExchangeCredential:
    """One of the user's trading accounts (a stored exchange credential); 404 otherwise."""
    return access(ExchangeCredential.objects, user, account_id, "Account")


def access_group_order(user: Any, group_order_id: Any) -> GroupOrder:
    return access(GroupOrder.objects, user, group_order_id, "Group order")


def group_order_placed(user: Any, client_order_id: str) -> bool:
    """Whether a group order with this client id (a bot's deterministic one) exists: a retried tick sends nothing."""
    return GroupOrder.objects.owned_by(user).filter(client_key=derive("group", user.pk, client_order_id)).exists()


def primary_account_id(group_id: Any) -> Any:
    """The account id of a group's primary member (None if it has none)."""
    return GroupMember.objects.filter(group_id=group_id, is_primary=True).values_list("account_id", flat=True).first()


def groups(user: Any) -> list[AccountGroup]:
    members = GroupMember.objects.select_related("account").order_by("-is_primary", "created_at")
    return list(AccountGroup.objects.owned_by(user).prefetch_related(Prefetch("members", queryset=members)))


def group_members(group: AccountGroup) -> list[GroupMember]:
    return list(group.members.select_related("account").order_by("-is_primary", "created_at"))


def group_order_children(group_order: GroupOrder) -> list[GroupOrderChild]:
    return list(group_order.children.select_related("order").order_by("-is_primary", "created_at", "slice_index"))


def group_orders_page(
    user: Any, group_id: Any = None, limit: int = 50, offset: int = 0
) -> tuple[list[GroupOrder], int]:
    rows = GroupOrder.objects.owned_by(user)
    if group_id is not None:
        rows = rows.filter(group_id=group_id)
    children = GroupOrderChild.objects.select_related("order").order_by("-is_primary", "created_at", "slice_index")
    page = list(
        rows.order_by("-created_at").prefetch_related(Prefetch("children", queryset=children))[offset : offset + limit]
    )
    return page, rows.count()


def group_orders_of_order(user: Any, order_ids: list[Any]) -> dict[str, dict]:
    """For trading Orders (ids), the group order each belongs to: {order id: {"group_order_id", "group_name",
    "account_label"}} (the order view shows which account of which group an order was)."""
    rows = (
        GroupOrderChild.objects.owned_by(user)
        .filter(order_id__in=order_ids)
        .select_related("group_order")
        .only("order_id", "account_label", "group_order__id", "group_order__group_name")
    )
    return {
        str(c.order_id): {
            "group_order_id": str(c.group_order_id),
            "group_name": c.group_order.group_name,
            "account_label": c.account_label,
        }
        for c in rows
    }
