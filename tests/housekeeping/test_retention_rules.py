"""Which child records are stale (SPEC 5), and what deleting one takes with it."""

from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from audit import services as audit
from audit.context import RequestContext
from audit.models import AccessEvent
from audit import integrity
from children import retention
from children.models import Address, Child, ChildName, Involvement
from practitioners import services as grants
from practitioners.models import AccessGrant, AccessRequest, ChildGroupObjectPermission, ChildUserObjectPermission
from tests import factories
from tests.housekeeping.conftest import at_noon

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 15)
CUTOFF = TODAY - timedelta(days=365)  # 2025-06-15: activity on this day or later is "recent"
SYSTEM = RequestContext.system("test")


def last_active_on(day, **fields):
    """A young child whose last activity was at noon on ``day`` (retain_until follows from it)."""
    fields.setdefault("date_of_birth", date(2019, 5, 1))
    return factories.ChildFactory(last_activity_at=at_noon(day), **fields)


def stale_references():
    return set(retention.stale_children(today=TODAY).values_list("reference", flat=True))


def test_a_record_inactive_for_one_day_more_than_the_period_is_stale_and_one_day_less_is_kept():
    gone = last_active_on(CUTOFF - timedelta(days=1))
    kept = last_active_on(CUTOFF)
    assert stale_references() == {gone.reference}
    retention.expire_stale_records(today=TODAY)
    assert list(Child.objects.values_list("reference", flat=True)) == [kept.reference]


def test_an_open_involvement_keeps_an_inactive_record():
    child = last_active_on(CUTOFF - timedelta(days=400))
    factories.InvolvementFactory(child=child, started_on=date(2020, 1, 1), ended_on=None)
    assert stale_references() == set()


def test_an_involvement_that_ended_within_the_period_keeps_the_record_one_that_ended_before_does_not():
    recent = last_active_on(CUTOFF - timedelta(days=400))
    factories.InvolvementFactory(child=recent, started_on=date(2020, 1, 1), ended_on=CUTOFF)
    old = last_active_on(CUTOFF - timedelta(days=400))
    factories.InvolvementFactory(child=old, started_on=date(2020, 1, 1), ended_on=CUTOFF - timedelta(days=1))
    assert stale_references() == {old.reference}


def test_a_retain_until_date_still_to_come_keeps_the_record_whatever_the_activity():
    child = last_active_on(CUTOFF - timedelta(days=400))
    Child.objects.filter(pk=child.pk).update(retain_until=TODAY)
    assert stale_references() == set()


def test_a_record_goes_the_day_after_the_18th_birthday_plus_the_period_even_with_an_open_involvement():
    # 18th birthday + 365 days = TODAY - 1 for the first child, = TODAY for the second.
    adult_gone = factories.ChildFactory(date_of_birth=date(2007, 6, 14))
    adult_kept = factories.ChildFactory(date_of_birth=date(2007, 6, 15))
    for child in (adult_gone, adult_kept):
        factories.InvolvementFactory(child=child, started_on=date(2024, 1, 1), ended_on=None)
    assert retention.eighteenth_birthday(adult_gone.date_of_birth) + timedelta(days=365) == TODAY - timedelta(days=1)
    assert stale_references() == {adult_gone.reference}


def test_born_on_29_february_a_child_turns_18_on_1_march_in_a_common_year():
    assert retention.eighteenth_birthday(date(2008, 2, 29)) == date(2026, 3, 1)
    assert retention.eighteenth_birthday(date(2006, 2, 28)) == date(2024, 2, 28)


def test_the_date_of_birth_bound_matches_the_birthday_rule_on_every_day_including_leap_days():
    day = date(2023, 1, 1)
    while day < date(2029, 1, 1):
        bound = retention.first_birth_date_not_yet_adult(day)
        assert retention.eighteenth_birthday(bound) >= day > retention.eighteenth_birthday(bound - timedelta(days=1))
        day += timedelta(days=1)


def test_legal_hold_exempts_a_record_from_both_rules():
    inactive = last_active_on(CUTOFF - timedelta(days=400), legal_hold=True, legal_hold_reason="Serious case review")
    adult = factories.ChildFactory(date_of_birth=date(2000, 1, 1), legal_hold=True, legal_hold_reason="Serious case review")
    result = retention.expire_stale_records(today=TODAY)
    assert result.counts()["children"] == 0
    assert set(Child.objects.values_list("pk", flat=True)) == {inactive.pk, adult.pk}


def test_deleting_a_child_deletes_its_names_addresses_involvements_grants_and_requests_only():
    practitioner = factories.PractitionerFactory()
    stale, other = last_active_on(CUTOFF - timedelta(days=30)), last_active_on(TODAY)
    for child in (stale, other):
        ChildName.objects.create(child=child, kind=ChildName.Kind.PREVIOUS, given_names="Old", family_name="Name")
        factories.AddressFactory(child=child)
        involvement = factories.InvolvementFactory(child=child, started_on=date(2020, 1, 1), ended_on=date(2021, 1, 1))
        grants.grant_access(practitioner=practitioner, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                            reason="Enquiry", expires_at=at_noon(date(2021, 1, 1)), context=SYSTEM,
                            involvement=involvement)
        AccessRequest.objects.create(practitioner=practitioner, child=child, reason="Enquiry")
        # An organisation's permission left behind (no open involvement keeps it) goes with the record too.
        ChildGroupObjectPermission.objects.create(group=Group.objects.create(name=f"left-behind-{child.pk}"),
                                                  permission=Permission.objects.get(codename="view_child"),
                                                  content_object=child)

    result = retention.expire_stale_records(today=TODAY)

    for model in (ChildName, Address, Involvement, AccessGrant, AccessRequest):
        assert not model.objects.filter(child=stale.pk).exists(), model
        assert model.objects.filter(child=other).exists(), model
    assert not ChildUserObjectPermission.objects.filter(content_object_id=stale.pk).exists()
    assert ChildUserObjectPermission.objects.filter(content_object=other).exists()
    assert list(ChildGroupObjectPermission.objects.values_list("content_object", flat=True)) == [other.pk]
    counts = result.counts()
    assert counts["children"] == 1 and counts["deleted_childname"] == 2 and counts["deleted_address"] == 1
    assert counts["deleted_involvement"] == 1 and counts["deleted_accessgrant"] == 1
    assert counts["deleted_accessrequest"] == 1


def test_audit_events_about_a_deleted_child_survive_unchanged_and_the_chain_still_verifies():
    child = last_active_on(CUTOFF - timedelta(days=30), given_names="Zebedee")
    for action in ("child.search", "child.view"):
        audit.record_event(action=action, context=SYSTEM, child=child, details={"note": "kept"})
    fields = [f.attname for f in AccessEvent._meta.fields]
    before = list(AccessEvent.objects.filter(child_ref=child.reference).order_by("id").values(*fields))

    retention.expire_stale_records(today=TODAY)

    assert not Child.objects.filter(reference=child.reference).exists()  # the reference points at nothing
    assert list(AccessEvent.objects.filter(child_ref=child.reference).order_by("id").values(*fields)) == before
    assert integrity.verify().ok


def test_each_batch_writes_one_audit_event_naming_its_children_by_reference_and_no_personal_data():
    children = [last_active_on(CUTOFF - timedelta(days=30), given_names="Zebedee", family_name="Quux")
                for _ in range(3)]
    retention.expire_stale_records(today=TODAY, batch_size=2)
    retention.expire_stale_records(today=TODAY)  # nothing left: no deletion, so no event
    events = list(AccessEvent.objects.filter(action="housekeeping.expire_records").order_by("id"))
    assert [e.details["deleted"]["child"] for e in events] == [2, 1]
    assert [e.details["batch"] for e in events] == [1, 2]
    assert sorted(ref for e in events for ref in e.details["child_refs"]) == sorted(c.reference for c in children)
    assert all(e.child_ref == "" for e in events)
    text = str([(e.details, e.reason, e.user_agent) for e in events])
    assert "Zebedee" not in text and "Quux" not in text
    assert integrity.verify().ok


def test_a_dry_run_lists_references_only_and_changes_nothing():
    stale = last_active_on(CUTOFF - timedelta(days=30), given_names="Zebedee")
    last_active_on(TODAY)
    result = retention.expire_stale_records(today=TODAY, dry_run=True)
    assert result.would_delete == [stale.reference]
    assert Child.objects.count() == 2
    assert not AccessEvent.objects.filter(action="housekeeping.expire_records").exists()


@pytest.fixture
def child_history():
    """django-auditlog records changes to children: the audit app registers it at start-up."""
    assert auditlog.contains(Child)


def test_the_field_history_of_a_deleted_child_goes_with_it(child_history):
    child = last_active_on(CUTOFF - timedelta(days=30), given_names="Zebedee")
    child.family_name = "Renamed"
    child.save()
    history = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Child), object_pk=str(child.pk))
    assert history.exists()
    result = retention.expire_stale_records(today=TODAY)
    assert result.counts()["deleted_field_history"] >= 1
    assert not history.exists()
    assert not LogEntry.objects.filter(changes_text__contains="Zebedee").exists()
