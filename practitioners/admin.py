from django.contrib import admin

from practitioners import models


@admin.register(models.LocalAuthority)
class LocalAuthorityAdmin(admin.ModelAdmin):
    list_display = ["name", "gss_code", "out_of_hours_phone"]
    search_fields = ["name", "gss_code"]


@admin.register(models.Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "local_authority"]
    list_filter = ["kind", "local_authority"]
    search_fields = ["name"]
    filter_horizontal = ["services"]


@admin.register(models.Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "sensitive"]
    list_filter = ["sensitive"]
    prepopulated_fields = {"code": ["name"]}


class StatusChangeInline(admin.TabularInline):
    model = models.PractitionerStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "changed_by", "changed_at", "reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "organisation", "job_title", "status", "vetting_expires_on"]
    list_filter = ["status", "organisation__local_authority"]
    search_fields = ["user__username", "user__last_name"]
    raw_id_fields = ["user", "approved_by"]
    inlines = [StatusChangeInline]


@admin.register(models.LocalAuthorityAdmin)
class LocalAuthorityAdminAdmin(admin.ModelAdmin):
    list_display = ["user", "local_authority"]
    raw_id_fields = ["user"]


@admin.register(models.AccessGrant)
class AccessGrantAdmin(admin.ModelAdmin):
    list_display = ["__str__", "practitioner", "source", "granted_at", "expires_at", "revoked_at"]
    list_filter = ["source"]
    raw_id_fields = ["practitioner", "child", "granted_by", "involvement", "reviewed_by"]


@admin.register(models.AccessRequest)
class AccessRequestAdmin(admin.ModelAdmin):
    list_display = ["__str__", "practitioner", "status", "requested_at", "decided_at"]
    list_filter = ["status"]
    raw_id_fields = ["practitioner", "child", "decided_by", "grant"]


@admin.register(models.SignInFailure)
class SignInFailureAdmin(admin.ModelAdmin):
    """For a superuser to unlock an account that has no practitioner page (an LA admin's, an auditor's):
    deleting its rows opens it. Practitioners are unlocked from the LA admin console (audited there)."""

    list_display = ("username", "failed_at")
    search_fields = ("username",)
    date_hierarchy = "failed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
