"""Account groups (/api/account-groups, members) and group orders (/api/account-groups/{id}/orders,
/api/group-orders). Thin: validate, call a service or selector, shape the payload."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from accounts.permissions import PASSWORD_SESSION_FOR_CHANGES
from amarktai.api import validated
from mirror import selectors, services
from mirror.payloads import group_order_payload, group_payload, member_payload
from mirror.serializers import (
    GroupCreateSerializer,
    GroupListResponseSerializer,
    GroupOrderCreateSerializer,
    GroupOrderFilterSerializer,
    GroupOrderListResponseSerializer,
    GroupOrderResponseSerializer,
    GroupResponseSerializer,
    GroupUpdateSerializer,
    MemberCreateSerializer,
    MemberFieldsSerializer,
    MemberResponseSerializer,
    MessageResponseSerializer,
)


def _group_body(group):
    return {"success": True, "group": group_payload(group, selectors.group_members(group))}


class GroupListView(GenericAPIView):
    serializer_class = GroupCreateSerializer
    # Which accounts trade together and how much: an API key may read groups, only a password session changes them.
    permission_classes = PASSWORD_SESSION_FOR_CHANGES

    @extend_schema(responses=GroupListResponseSerializer, description="The user's account groups with their members.")
    def get(self, request):
        groups = [group_payload(g) for g in selectors.groups(request.user)]
        return Response({"success": True, "groups": groups, "total": len(groups)})

    @extend_schema(
        request=GroupCreateSerializer,
        responses={201: GroupResponseSerializer},
        description="A new group led by one of the user's accounts (its primary). Add followers with "
        "POST /api/account-groups/{id}/members.",
    )
    def post(self, request):
        data = validated(GroupCreateSerializer, request.data)
        group = services.create_group(request.user, **data)
        return Response(_group_body(group), status=201)


class GroupDetailView(GenericAPIView):
    serializer_class = GroupUpdateSerializer
    # Which accounts trade together and how much: an API key may read groups, only a password session changes them.
    permission_classes = PASSWORD_SESSION_FOR_CHANGES

    def get_object(self):
        return selectors.access_group(self.request.user, self.kwargs["group_id"])

    @extend_schema(responses=GroupResponseSerializer)
    def get(self, request, group_id):
        return Response(_group_body(selectors.access_group(request.user, group_id)))

    @extend_schema(request=GroupUpdateSerializer, responses=GroupResponseSerializer)
    def patch(self, request, group_id):
        self.get_object()  # another user's group: 404 before any validation
        changes = validated(GroupUpdateSerializer, request.data)
        return Response(_group_body(services.update_group(request.user, group_id, dict(changes))))

    @extend_schema(responses=MessageResponseSerializer, description="Delete the group (its orders stay).")
    def delete(self, request, group_id):
        services.delete_group(request.user, group_id)
        return Response({"success": True, "message": "Group deleted"})


class MemberListView(GenericAPIView):
    serializer_class = MemberCreateSerializer
    # Which accounts trade together and how much: an API key may read groups, only a password session changes them.
    permission_classes = PASSWORD_SESSION_FOR_CHANGES

    @extend_schema(request=MemberCreateSerializer, responses={201: MemberResponseSerializer})
    def post(self, request, group_id):
        selectors.access_group(request.user, group_id)  # another user's group: 404 before any validation
        data = validated(MemberCreateSerializer, request.data)
        member = services.add_member(request.user, group_id, **data)
        return Response({"success": True, "member": member_payload(member)}, status=201)


class MemberDetailView(GenericAPIView):
    serializer_class = MemberFieldsSerializer
    # Which accounts trade together and how much: an API key may read groups, only a password session changes them.
    permission_classes = PASSWORD_SESSION_FOR_CHANGES

    def get_object(self):
        return selectors.access_member(self.request.user, self.kwargs["group_id"], self.kwargs["member_id"])

    @extend_schema(request=MemberFieldsSerializer, responses=MemberResponseSerializer)
    def patch(self, request, group_id, member_id):
        self.get_object()  # another user's member: 404 before any validation
        changes = validated(MemberFieldsSerializer, request.data)
        member = services.update_member(request.user, group_id, member_id, dict(changes))
        return Response({"success": True, "member": member_payload(member)})

    @extend_schema(responses=MessageResponseSerializer)
    def delete(self, request, group_id, member_id):
        services.remove_member(request.user, group_id, member_id)
        return Response({"success": True, "message": "Account removed from the group"})


class GroupOrderCreateView(GenericAPIView):
    serializer_class = GroupOrderCreateSerializer

    @extend_schema(
        request=GroupOrderCreateSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: GroupOrderResponseSerializer},
        description="Send one order to every enabled account of the group: the primary trades `amount`, each "
        "follower its multiplier's (or fixed) size rounded down to its market, split at the market's freeze "
        "quantity. Accounts short of funds (fees included) are skipped and reported; `all_or_nothing` refuses the "
        "whole order instead (400 INSUFFICIENT_FUNDS, nothing sent). One account's failure never stops the others: "
        "`children` says which accounts filled and which failed, and why.",
    )
    @idempotent
    def post(self, request, group_id):
        selectors.access_group(request.user, group_id)  # another user's group: 404 before any validation
        data = validated(GroupOrderCreateSerializer, request.data)
        group_order = services.place_group_order(request.user, group_id, **data)
        children = selectors.group_order_children(group_order)
        return Response({"success": True, "group_order": group_order_payload(group_order, children)}, status=201)


class GroupOrderListView(GenericAPIView):
    @extend_schema(parameters=[GroupOrderFilterSerializer], responses=GroupOrderListResponseSerializer)
    def get(self, request):
        filters = validated(GroupOrderFilterSerializer, request.query_params)
        rows, total = selectors.group_orders_page(request.user, **filters)
        return Response(
            {
                "success": True,
                "group_orders": [group_order_payload(g, list(g.children.all())) for g in rows],
                "total": total,
            }
        )


class GroupOrderDetailView(GenericAPIView):
    @extend_schema(responses=GroupOrderResponseSerializer)
    def get(self, request, group_order_id):
        group_order = selectors.access_group_order(request.user, group_order_id)
        children = selectors.group_order_children(group_order)
        return Response({"success": True, "group_order": group_order_payload(group_order, children)})
