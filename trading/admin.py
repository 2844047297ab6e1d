from django.contrib import admin

from amarktai.admin_base import ReadOnlyAdmin
from trading.models import Order, PaperBalance, PaperOrder, Position, Trade


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "user",
        "bot",
        "exchange",
        "symbol",
        "side",
        "amount",
        "price",
        "fee",
        "profit_loss",
        "is_paper",
    ]
    list_filter = ["side", "exchange", "is_paper"]
    search_fields = ["user__email", "bot__name", "symbol"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "bot"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "user",
        "bot",
        "exchange",
        "symbol",
        "side",
        "type",
        "amount",
        "filled",
        "status",
        "is_paper",
    ]
    list_filter = ["status", "side", "type", "exchange", "is_paper"]
    search_fields = ["user__email", "bot__name", "symbol", "client_order_id", "exchange_order_id"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "bot"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = [
        "opened_at",
        "user",
        "bot",
        "exchange",
        "symbol",
        "amount",
        "entry_price",
        "is_open",
        "realised_pnl",
    ]
    list_filter = ["is_open", "exchange"]
    search_fields = ["user__email", "bot__name", "symbol"]
    list_select_related = ["user", "bot"]


@admin.register(PaperBalance)
class PaperBalanceAdmin(admin.ModelAdmin):
    list_display = ("user", "platform", "currency", "free", "used", "updated_at")
    list_filter = ("platform", "currency")
    search_fields = ("user__email",)


@admin.register(PaperOrder)
class PaperOrderAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "platform", "symbol", "side", "type", "amount", "price", "status", "created_at")
    list_filter = ("platform", "status", "side", "type")
    search_fields = ("user__email", "client_order_id")
