from django.contrib import admin

from market.models import Instrument


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("user", "exchange", "symbol", "alert_above", "alert_below", "created_at")
    list_filter = ("exchange",)
    search_fields = ("user__email", "symbol")
