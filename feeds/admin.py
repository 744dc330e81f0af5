from django.contrib import admin

from feeds import models


@admin.register(models.OrganisationToken)
class OrganisationTokenAdmin(admin.ModelAdmin):
    """Tokens are issued from the Data feeds pages (the key is shown once there); here they are read-only."""

    list_display = ["name", "organisation", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["organisation__local_authority"]
    # Never the key, nor its hash (issue 16 item 4): the prefix is enough to tell tokens apart.
    fields = readonly_fields = ["name", "organisation", "prefix", "created_by", "created_at", "last_used_at",
                                "revoked_at", "revoked_by", "rotated_from"]

    def has_add_permission(self, request):
        return False


@admin.register(models.FeedBatch)
class FeedBatchAdmin(admin.ModelAdmin):
    list_display = ["pk", "organisation", "source", "received_at", "rows", "created", "updated", "unchanged",
                    "queued", "errors", "duration_ms"]
    list_filter = ["source", "organisation__local_authority"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.MatchReview)
class MatchReviewAdmin(admin.ModelAdmin):
    list_display = ["pk", "organisation", "external_id", "status", "created_at", "decided_at"]
    list_filter = ["status"]
    exclude = ["row"]  # personal data: decided on the review pages, where viewing it is audited

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.CsvUpload)
class CsvUploadAdmin(admin.ModelAdmin):
    list_display = ["pk", "organisation", "filename", "status", "total_rows", "processed_rows", "uploaded_at"]
    list_filter = ["status"]
    exclude = ["content", "errors"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.ChildMerge)
class ChildMergeAdmin(admin.ModelAdmin):
    list_display = ["pk", "merged_child", "into", "merged_at", "undone_at"]
    raw_id_fields = ["merged_child", "into"]

    def has_change_permission(self, request, obj=None):
        return False
