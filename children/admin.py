from django.contrib import admin

from audit.admin import ReadOnlyAdmin
from children import models


class ChildNameInline(admin.TabularInline):
    model = models.ChildName
    extra = 0
    fields = ["kind", "given_names", "family_name"]


class AddressInline(admin.TabularInline):
    model = models.Address
    extra = 0


class InvolvementInline(admin.TabularInline):
    model = models.Involvement
    extra = 0
    raw_id_fields = ["lead_practitioner"]


@admin.register(models.Child)
class ChildAdmin(admin.ModelAdmin):
    list_display = ["reference", "local_authority", "status", "retain_until", "legal_hold"]
    list_filter = ["status", "local_authority", "shielded", "legal_hold"]
    search_fields = ["reference", "nhs_number", "upn"]
    readonly_fields = ["reference", "postcode_district", "postcode_sector"]
    raw_id_fields = ["merged_into"]
    inlines = [ChildNameInline, AddressInline, InvolvementInline]


@admin.register(models.Involvement)
class InvolvementAdmin(admin.ModelAdmin):
    list_display = ["__str__", "organisation", "service", "started_on", "ended_on", "external_id"]
    list_filter = ["service__sensitive", "organisation__local_authority"]
    raw_id_fields = ["child", "lead_practitioner"]
    search_fields = ["external_id"]


@admin.register(models.Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["__str__", "local_authority", "moved_in_on", "moved_out_on"]
    raw_id_fields = ["child"]



class ContactRecipientInline(admin.TabularInline):
    model = models.ContactRecipient
    extra = 0
    fields = readonly_fields = ["involvement", "local_authority", "route", "method"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.ContactRequest)
class ContactRequestAdmin(ReadOnlyAdmin):  # a record of what left Signpost: nobody edits it here
    list_display = ["__str__", "child", "requester", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["=child__reference"]
    raw_id_fields = ["child", "requester"]
    inlines = [ContactRecipientInline]
