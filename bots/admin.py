from django.contrib import admin

from bots.models import Bot


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "exchange",
        "symbol",
        "status",
        "trading_mode",
        "risk_mode",
        "strategy",
        "current_capital",
        "total_profit",
        "failure_count",
        "paused_by_admin",
        "last_tick_at",
        "created_at",
    ]
    list_filter = ["status", "paused_by_admin", "trading_mode", "risk_mode", "strategy", "exchange"]
    search_fields = ["name", "user__email", "symbol"]
    readonly_fields = [
        "id",
        "initial_capital",
        "current_capital",
        "total_profit",
        "last_tick_at",
        "created_at",
        "updated_at",
        "paused_by",
        "paused_at",
    ]
    list_select_related = ["user"]
