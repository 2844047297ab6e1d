from django.contrib import admin

from notifications.models import Channel, Delivery


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Never shows a webhook's secret (not even its ciphertext)."""

    list_display = ("id", "user", "kind", "name", "enabled", "failure_count", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("user__email", "name")
    fields = ("user", "kind", "name", "target", "enabled", "failure_count", "disabled_reason", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "channel_kind", "event_kind", "status", "attempts", "response_code", "created_at")
    list_filter = ("status", "channel_kind", "event_kind")
    search_fields = ("user__email",)
    fields = ("user", "channel", "event_kind", "subject", "status", "attempts", "response_code", "error", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False
