from django.contrib import admin

from amarktai.admin_base import ReadOnlyAdmin
from trading.models import Order, Position, Trade


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "bot", "exchange", "symbol", "side", "amount", "price", "fee", "profit_loss",
                    "is_paper"]
    list_filter = ["side", "exchange", "is_paper"]
    search_fields = ["user__email", "bot__name", "symbol"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "bot"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "bot", "exchange", "symbol", "side", "type", "amount", "filled", "status",
                    "is_paper"]
    list_filter = ["status", "side", "type", "exchange", "is_paper"]
    search_fields = ["user__email", "bot__name", "symbol", "client_order_id", "exchange_order_id"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "bot"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["opened_at", "user", "bot", "exchange", "symbol", "amount", "entry_price", "is_open", "realised_pnl"]
    list_filter = ["is_open", "exchange"]
    search_fields = ["user__email", "bot__name", "symbol"]
    list_select_related = ["user", "bot"]
