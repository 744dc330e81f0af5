from django.contrib import admin

from audit.admin import ReadOnlyAdmin
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


# Grants and requests open child records: read-only here, so that access is only ever given through
# practitioners.services (checked, time-boxed, audited), never by an admin form.
@admin.register(models.AccessGrant)
class AccessGrantAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "practitioner", "source", "granted_at", "expires_at", "revoked_at"]
    list_filter = ["source"]


@admin.register(models.AccessRequest)
class AccessRequestAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "practitioner", "status", "requested_at", "decided_at"]
    list_filter = ["status"]


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


# Accounts and second factors (issue 16 item 4) -----------------------------------------------
# The stock admins show a password hash and a set-password form (impersonation of anyone), the
# TOTP secret and its QR code, backup codes, and API token keys. Here they are view-only and
# show none of those: accounts change through the console's audited services.

from django.contrib.auth import get_user_model  # noqa: E402
from django_otp.plugins.otp_static.models import StaticDevice  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402
from rest_framework.authtoken.models import TokenProxy  # noqa: E402

for _model in (get_user_model(), TOTPDevice, StaticDevice, TokenProxy):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(get_user_model())
class UserAdmin(ReadOnlyAdmin):
    list_display = ["username", "email", "is_active", "is_staff", "is_superuser", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups"]
    search_fields = ["username", "email"]
    fields = ["username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser", "groups",
              "last_login", "date_joined"]  # never "password" or "user_permissions"

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class DeviceAdmin(ReadOnlyAdmin):
    """Whether someone has a second factor, never the secret."""

    list_display = ["user", "name", "confirmed"]
    fields = ["user", "name", "confirmed"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields


admin.site.register(TOTPDevice, DeviceAdmin)
admin.site.register(StaticDevice, DeviceAdmin)
# API tokens are not registered at all: a token's key is its primary key and its str().
