"""Merging two records of one child, and undoing it exactly."""

from datetime import date

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from audit.context import RequestContext
from audit.models import AccessEvent
from children.models import Address, Child, ChildName, Involvement
from feeds.models import ChildMerge
from practitioners import permissions
from practitioners.services import involvement_access_pairs, sync_organisation_access
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(organisation):
    la = organisation.local_authority
    keep = factories.ChildFactory(given_names="Amelia", family_name="Kociński", date_of_birth=date(2015, 3, 27),
                                  local_authority=la, upn=None)
    duplicate = factories.ChildFactory(given_names="Amy", family_name="Kocinski", date_of_birth=date(2015, 3, 27),
                                       local_authority=la, nhs_number=None, upn=factories.upn_for(3))
    factories.AddressFactory(child=duplicate, postcode="LS6 2AB")
    involvement = factories.InvolvementFactory(child=duplicate, organisation=organisation)
    return keep, duplicate, involvement


@pytest.fixture
def admin(client, login_verified, la_admin):
    return login_verified(client, la_admin)


def merge_form(keep, duplicate, **extra):
    return {"merged_reference": duplicate.reference, "into_reference": keep.reference,
            "reason": "Same child: school and health records", **extra}


def test_the_merge_is_checked_side_by_side_before_anything_changes(admin, pair):
    keep, duplicate, _ = pair
    response = admin.post(reverse("feeds:merge"), merge_form(keep, duplicate))
    body = response.content.decode()
    assert response.status_code == 200 and "Are these the same child?" in body
    assert keep.reference in body and duplicate.reference in body
    assert Child.objects.get(pk=duplicate.pk).status == "active"
    assert AccessEvent.objects.get(action="child.merge.preview").details["children"] == [duplicate.reference,
                                                                                       keep.reference]


def test_merging_moves_involvements_names_addresses_and_a_missing_identifier(admin, pair, monkeypatch, organisation):
    from django.contrib.auth.models import User

    monkeypatch.setattr(User, "is_verified", lambda self: True, raising=False)
    keep, duplicate, involvement = pair
    colleague = factories.PractitionerFactory(organisation=organisation)
    sync_organisation_access(opened=involvement_access_pairs([involvement]), context=RequestContext.system("test"))
    assert permissions.may_open_child(colleague, duplicate)

    response = admin.post(reverse("feeds:merge"), merge_form(keep, duplicate, confirm="yes"))

    assert response.status_code == 302
    duplicate.refresh_from_db()
    keep.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into) == ("merged", keep)
    assert Involvement.objects.get(pk=involvement.pk).child == keep
    assert keep.names.filter(kind="other", given_names="Amy").exists()
    assert keep.names.filter(kind="current").count() == 1
    assert Address.objects.get(child=keep).postcode == "LS6 2AB"
    assert keep.upn == factories.upn_for(3) and duplicate.upn is None
    assert permissions.may_open_child(colleague, keep) and not permissions.may_open_child(colleague, duplicate)
    event = AccessEvent.objects.get(action="child.merge")
    assert event.child_ref == keep.reference and event.details["merged_child"] == duplicate.reference
    assert LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Child), object_id=duplicate.pk,
                                   changes__has_key="status").exists()


def test_a_feed_row_for_the_duplicate_now_lands_on_the_kept_record(admin, api, pair):
    from tests.feeds.conftest import post_rows, row

    keep, duplicate, _ = pair
    upn = duplicate.upn
    admin.post(reverse("feeds:merge"), merge_form(keep, duplicate, confirm="yes"))
    post_rows(api, [row(50, nhs_number="", upn=upn)])
    assert Involvement.objects.get(external_id="EXT-50").child == keep


def test_undo_puts_back_exactly_what_the_merge_moved(admin, pair):
    keep, duplicate, involvement = pair
    names_before = sorted(ChildName.objects.filter(child=duplicate).values_list("pk", "kind"))
    admin.post(reverse("feeds:merge"), merge_form(keep, duplicate, confirm="yes"))
    merge = ChildMerge.objects.get()

    response = admin.post(reverse("feeds:merge_undo", args=[merge.pk]))

    assert response.status_code == 302
    duplicate.refresh_from_db()
    keep.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into, duplicate.upn) == ("active", None, factories.upn_for(3))
    assert keep.upn is None
    assert Involvement.objects.get(pk=involvement.pk).child == duplicate
    assert sorted(ChildName.objects.filter(child=duplicate).values_list("pk", "kind")) == names_before
    assert keep.names.count() == 1 and Address.objects.get().child == duplicate
    assert ChildMerge.objects.get().undone_at is not None
    assert AccessEvent.objects.filter(action="child.unmerge").count() == 1


def test_an_undone_merge_cannot_be_undone_twice(admin, pair):
    keep, duplicate, _ = pair
    admin.post(reverse("feeds:merge"), merge_form(keep, duplicate, confirm="yes"))
    merge = ChildMerge.objects.get()
    admin.post(reverse("feeds:merge_undo", args=[merge.pk]))
    admin.post(reverse("feeds:merge_undo", args=[merge.pk]))
    assert AccessEvent.objects.filter(action="child.unmerge").count() == 1


def test_records_with_different_nhs_numbers_are_different_children(admin, pair):
    keep, duplicate, _ = pair
    Child.objects.filter(pk=duplicate.pk).update(nhs_number=factories.nhs_number_for(777))
    response = admin.post(reverse("feeds:merge"), merge_form(keep, duplicate, confirm="yes"))
    assert response.status_code == 400 and b"different NHS numbers" in response.content
    assert Child.objects.get(pk=duplicate.pk).status == "active"


def test_a_record_of_another_area_cannot_be_merged(admin, pair):
    keep, _, _ = pair
    elsewhere = factories.ChildFactory(nhs_number=None)
    response = admin.post(reverse("feeds:merge"), merge_form(keep, elsewhere, confirm="yes"))
    assert response.status_code == 400
    assert b"No record in your local authority has this reference." in response.content
    assert Child.objects.get(pk=elsewhere.pk).status == "active"


def test_a_record_cannot_be_merged_into_itself(admin, pair):
    keep, _, _ = pair
    response = admin.post(reverse("feeds:merge"), merge_form(keep, keep))
    assert response.status_code == 400 and b"Enter two different records." in response.content
