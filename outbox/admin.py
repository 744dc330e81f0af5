from django.contrib import admin

from outbox.models import OutboundEmail


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """The operator's view of email: what failed after every retry, and what still waits.

    Lists no address, subject or body (they may name people); every admin page view is an
    ``admin.view`` audit event (audit.middleware). Nobody edits or deletes rows here.
    """

    list_display = ["id", "kind", "status", "attempts", "recipient_count", "created_at", "last_attempt_at",
                    "next_attempt_at", "sent_at", "last_error"]
    list_filter = ["status", "kind"]
    date_hierarchy = "created_at"
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
