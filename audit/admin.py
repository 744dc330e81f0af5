from django.contrib import admin

from audit.models import AccessEvent, AnomalyReview, DailySearchCount, EventDisclosure


class ReadOnlyAdmin(admin.ModelAdmin):
    """Read-only: nobody, not even a superuser, edits or deletes audit records here
    (and the database refuses it for events and disclosures whatever the admin says)."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline:
    """Mixin for inlines on a read-only page: nothing added, changed or deleted through them."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return list(self.fields or [f.name for f in self.model._meta.fields])

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "occurred_at", "action", "actor_username", "child_ref", "outcome", "chain", "seq"]
    list_filter = ["outcome"]  # not action: a DISTINCT over the whole log per page
    search_fields = ["=child_ref", "=actor_username", "=request_id"]
    show_full_result_count = False  # COUNT(*) over millions of events on every page load


@admin.register(EventDisclosure)
class EventDisclosureAdmin(ReadOnlyAdmin):
    list_display = ["id", "event_id", "occurred_at", "child_ref"]
    search_fields = ["=child_ref"]
    show_full_result_count = False


@admin.register(AnomalyReview)
class AnomalyReviewAdmin(ReadOnlyAdmin):
    list_display = ["anomaly_key", "kind", "reviewed_by_username", "reviewed_at"]
    list_filter = ["kind"]


@admin.register(DailySearchCount)
class DailySearchCountAdmin(ReadOnlyAdmin):
    list_display = ["day", "actor_username", "searches"]
