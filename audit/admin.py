from django.contrib import admin

from audit.models import AccessEvent


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    """Read-only: nobody, not even a superuser, edits or deletes an audit event."""

    list_display = ["id", "occurred_at", "action", "actor_username", "child_ref", "outcome"]
    list_filter = ["action", "outcome"]
    search_fields = ["child_ref", "actor_username", "request_id"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
