from django.contrib import admin

from chat.models import ChatMessage, PendingAction


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "role", "short_content"]
    list_filter = ["role"]
    search_fields = ["user__email", "content"]
    readonly_fields = ["user", "role", "content", "created_at"]
    list_select_related = ["user"]

    @admin.display(description="content")
    def short_content(self, obj):
        return obj.content[:100]

    def has_add_permission(self, request):
        return False


@admin.register(PendingAction)
class PendingActionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "action_type", "description", "expires_at", "consumed_at"]
    list_filter = ["action_type"]
    search_fields = ["user__email", "description"]
    exclude = ["token_hash"]
    readonly_fields = [
        "user",
        "action_type",
        "description",
        "bot_ids",
        "params",
        "created_at",
        "expires_at",
        "consumed_at",
        "result",
    ]
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
