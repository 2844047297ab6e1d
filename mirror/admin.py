from django.contrib import admin

from mirror.models import AccountGroup, GroupMember, GroupOrder, GroupOrderChild


class MemberInline(admin.TabularInline):
    model = GroupMember
    extra = 0
    fields = ("account", "is_primary", "multiplier", "fixed_amount", "max_order_value", "enabled")
    raw_id_fields = ("account",)


@admin.register(AccountGroup)
class AccountGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "enabled", "created_at")
    search_fields = ("user__email", "name")
    inlines = [MemberInline]


class ChildInline(admin.TabularInline):
    model = GroupOrderChild
    extra = 0
    fields = ("account_label", "slice_index", "amount", "state", "error", "order")
    readonly_fields = fields
    can_delete = False


@admin.register(GroupOrder)
class GroupOrderAdmin(admin.ModelAdmin):
    list_display = ("group_name", "user", "side", "amount", "symbol", "created_at")
    search_fields = ("user__email", "group_name", "symbol")
    readonly_fields = ("client_key",)
    inlines = [ChildInline]
