from django.contrib import admin

from wallets.models import ExchangeCredential, Transfer, TransferEvent


@admin.register(ExchangeCredential)
class ExchangeCredentialAdmin(admin.ModelAdmin):
    """Never shows ciphertext or secrets: only the masked key."""

    list_display = ("id", "user", "platform", "label", "masked_key", "keys_valid", "last_checked_at", "created_at")
    list_filter = ("platform", "keys_valid")
    search_fields = ("user__email", "label")
    fields = ("user", "platform", "label", "masked_key", "keys_valid", "last_checked_at", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


class TransferEventInline(admin.TabularInline):
    model = TransferEvent
    extra = 0
    can_delete = False
    readonly_fields = ("status", "note", "created_at")


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "from_provider", "to_provider", "amount", "currency", "reason", "created_at")
    search_fields = ("user__email", "correlation_id")
    readonly_fields = (
        "user",
        "from_provider",
        "to_provider",
        "amount",
        "currency",
        "reason",
        "correlation_id",
        "created_at",
    )
    inlines = [TransferEventInline]
