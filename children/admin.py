from django.contrib import admin

from audit.admin import ReadOnlyAdmin, ReadOnlyInline
from children import models

# Child records are read-only here: names, addresses, involvements and moves change only through
# children.services, which check permission and audit each change (issue 16 item 4). Every admin
# view of them is audited by audit.middleware.


class ChildNameInline(ReadOnlyInline, admin.TabularInline):
    model = models.ChildName
    fields = ["kind", "given_names", "family_name"]


class AddressInline(ReadOnlyInline, admin.TabularInline):
    model = models.Address


class InvolvementInline(ReadOnlyInline, admin.TabularInline):
    model = models.Involvement


@admin.register(models.Child)
class ChildAdmin(ReadOnlyAdmin):
    list_display = ["reference", "local_authority", "status", "retain_until", "legal_hold"]
    list_filter = ["status", "local_authority", "shielded", "legal_hold"]
    search_fields = ["reference", "nhs_number", "upn"]
    inlines = [ChildNameInline, AddressInline, InvolvementInline]


@admin.register(models.Involvement)
class InvolvementAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "organisation", "service", "started_on", "ended_on", "external_id"]
    list_filter = ["service__sensitive", "organisation__local_authority"]
    search_fields = ["external_id"]


@admin.register(models.Address)
class AddressAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "local_authority", "moved_in_on", "moved_out_on"]


class ContactRecipientInline(ReadOnlyInline, admin.TabularInline):
    model = models.ContactRecipient
    fields = ["involvement", "local_authority", "route", "method"]


@admin.register(models.ContactRequest)
class ContactRequestAdmin(ReadOnlyAdmin):  # a record of what left Signpost: nobody edits it here
    list_display = ["__str__", "child", "requester", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["=child__reference"]
    inlines = [ContactRecipientInline]
