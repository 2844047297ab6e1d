from django.contrib import admin

from bots.models import Bot, StrategySignal


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


@admin.register(StrategySignal)
class StrategySignalAdmin(admin.ModelAdmin):
    """Read-only: signals are what the strategies decided, never edited."""

    list_display = ["created_at", "user", "bot_name", "exchange", "symbol", "side", "confidence", "outcome", "strategy"]
    list_filter = ["side", "outcome", "strategy", "exchange"]
    search_fields = ["user__email", "symbol", "bot_name"]
    list_select_related = ["user"]
    show_full_result_count = False  # no COUNT(*) over a million rows per page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
