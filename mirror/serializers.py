"""Input validation (and response shapes for the schema) of account groups and group orders."""

from rest_framework import serializers

from amarktai.api import StrictDecimalField, StrictIntegerField


def _decimal(**kwargs):
    return StrictDecimalField(max_digits=24, decimal_places=8, **kwargs)


class GroupCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    primary_account_id = serializers.UUIDField(help_text="The account (a stored exchange key) that leads.")
    enabled = serializers.BooleanField(default=True)


class GroupUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False)
    primary_account_id = serializers.UUIDField(required=False)
    enabled = serializers.BooleanField(required=False)


class MemberFieldsSerializer(serializers.Serializer):
    multiplier = _decimal(
        min_value=0, required=False, help_text="The follower trades the primary's size x this (e.g. 0.5, 2)."
    )
    fixed_amount = _decimal(
        min_value=0, required=False, allow_null=True, help_text="A fixed size instead of the multiplier."
    )
    max_order_value = _decimal(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="Caps each of this account's orders at this value (quote currency).",
    )
    enabled = serializers.BooleanField(required=False)


class MemberCreateSerializer(MemberFieldsSerializer):
    account_id = serializers.UUIDField()


class GroupOrderCreateSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=["buy", "sell"])
    type = serializers.ChoiceField(choices=["market", "limit"], default="market")
    amount = _decimal(min_value=0, help_text="The primary account's size; followers' follow from it.")
    price = _decimal(min_value=0, required=False, allow_null=True)
    all_or_nothing = serializers.BooleanField(
        default=False, help_text="Refuse the whole order when any account lacks funds (default: skip those accounts)."
    )
    client_order_id = serializers.RegexField(
        r"^[A-Za-z0-9_.:-]{1,64}$",
        max_length=64,
        required=False,
        help_text="Your id for this group order: retrying with the same id places nothing new.",
    )


class GroupOrderFilterSerializer(serializers.Serializer):
    group_id = serializers.UUIDField(required=False)
    limit = StrictIntegerField(min_value=1, max_value=200, default=50)
    offset = StrictIntegerField(min_value=0, max_value=2**31 - 1, default=0)


# --- response shapes (OpenAPI) --------------------------------------------------------------------------------
class MemberSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    account_id = serializers.UUIDField()
    account_label = serializers.CharField()
    exchange = serializers.CharField()
    is_primary = serializers.BooleanField()
    multiplier = serializers.FloatField()
    fixed_amount = serializers.FloatField(allow_null=True)
    max_order_value = serializers.FloatField(allow_null=True)
    enabled = serializers.BooleanField()


class GroupSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    enabled = serializers.BooleanField()
    members = MemberSerializer(many=True)
    created_at = serializers.DateTimeField()


class GroupResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    group = GroupSerializer()


class GroupListResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    groups = GroupSerializer(many=True)
    total = serializers.IntegerField()


class MemberResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    member = MemberSerializer()


class MessageResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class ChildSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    group_order_id = serializers.UUIDField()
    account_id = serializers.UUIDField(allow_null=True)
    account_label = serializers.CharField()
    exchange = serializers.CharField()
    is_primary = serializers.BooleanField()
    slice = serializers.IntegerField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    type = serializers.CharField()
    amount = serializers.FloatField()
    status = serializers.ChoiceField(choices=["pending", "open", "closed", "canceled", "rejected", "failed", "skipped"])
    filled = serializers.FloatField()
    average = serializers.FloatField(allow_null=True)
    fee = serializers.FloatField()
    order_id = serializers.UUIDField(allow_null=True)
    client_order_id = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    error_code = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField()


class GroupOrderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    group_id = serializers.UUIDField(allow_null=True)
    group_name = serializers.CharField()
    bot_id = serializers.UUIDField(allow_null=True)
    symbol = serializers.CharField()
    side = serializers.CharField()
    type = serializers.CharField()
    amount = serializers.FloatField()
    price = serializers.FloatField(allow_null=True)
    all_or_nothing = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["working", "filled", "partial", "failed"])
    filled = serializers.FloatField()
    accounts_filled = serializers.ListField(child=serializers.CharField())
    accounts_failed = serializers.ListField(child=serializers.CharField())
    children = ChildSerializer(many=True)
    reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class GroupOrderResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    group_order = GroupOrderSerializer()


class GroupOrderListResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    group_orders = GroupOrderSerializer(many=True)
    total = serializers.IntegerField()
