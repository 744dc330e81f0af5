"""The audit service appends hash-chained events, in the caller's transaction."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.db import transaction

from audit import integrity, services
from audit.context import RequestContext
from audit.models import AccessEvent, ChainHead, EventDisclosure
from tests import factories

pytestmark = pytest.mark.django_db


def test_each_event_links_to_the_previous_one_by_hash():
    context = RequestContext.system("test")
    first = services.record_event(action="test.one", context=context)
    second = services.record_event(action="test.two", context=context)
    assert (first.chain, first.seq, first.prev_hash) == (1, 1, services.GENESIS_HASH)
    assert (second.chain, second.seq, second.prev_hash) == (1, 2, first.hash)
    assert second.hash == services.compute_hash(second)
    assert ChainHead.objects.get(pk=1).last_hash == second.hash


def test_the_hash_covers_the_content_and_the_position_in_the_chain():
    event = services.record_event(action="child.view", context=RequestContext.system(), reason="Assessment")
    for name, value in [("reason", "Something else"), ("seq", event.seq + 1), ("chain", 2),
                        ("action", "child.search"), ("details", {"x": 1})]:
        changed = AccessEvent.objects.get(pk=event.pk)
        setattr(changed, name, value)
        assert services.compute_hash(changed) != event.hash, name


def test_an_event_names_a_child_only_by_its_pseudonymous_reference():
    child = factories.ChildFactory(given_names="Zebedee")
    event = services.record_event(action="child.view", context=RequestContext.system(), child=child)
    stored = AccessEvent.objects.get(pk=event.pk)
    assert stored.child_ref == child.reference
    assert "Zebedee" not in str(stored.details) and "Zebedee" not in stored.reason


def test_the_child_area_and_shielding_at_the_time_are_kept_for_the_anomaly_view():
    child = factories.ChildFactory(shielded=True)
    event = services.record_event(action="child.view", context=RequestContext.system(), child=child)
    assert event.shielded is True
    assert event.child_local_authority_id == child.local_authority_id


def test_the_actor_organisation_and_authority_are_carried_on_the_event():
    practitioner = factories.PractitionerFactory()
    event = services.record_event(action="child.search", context=RequestContext(user=practitioner.user))
    assert event.actor_id == practitioner.user_id
    assert event.organisation_id == practitioner.organisation_id
    assert event.local_authority_id == practitioner.organisation.local_authority_id
    assert event.actor_role == "Practitioner"


def test_query_fingerprints_are_keyed_and_stable():
    assert services.fingerprint("smith|2015-03-09") == services.fingerprint("smith|2015-03-09")
    assert services.fingerprint("smith|2015-03-09") != services.fingerprint("smyth|2015-03-09")
    assert "smith" not in services.fingerprint("smith|2015-03-09")


def test_what_is_stored_is_what_was_hashed_whatever_the_caller_passed():
    """Datetimes and decimals in details, an IPv6 address in long form, NUL bytes and
    over-long text: the stored event must still verify (and PostgreSQL must not refuse it)."""
    context = RequestContext(ip_address="2001:0db8:0000:0000:0000:0000:0000:0001", user_agent="agent\x00" + "x" * 400,
                             request_id="r" * 100)
    event = services.record_event(action="child.view", context=context, reason="because\x00",
                                  details={"at": datetime(2026, 1, 2, 3, 4, 5), "n": Decimal("1.5"), "s": "a\x00b"})
    stored = AccessEvent.objects.get(pk=event.pk)
    assert services.compute_hash(stored) == stored.hash == event.hash
    assert stored.ip_address == "2001:db8::1"
    assert "\x00" not in stored.user_agent + stored.reason + stored.details["s"]
    assert len(stored.user_agent) == 300 and len(stored.request_id) == 64


def test_children_a_search_disclosed_are_hashed_with_it_and_indexed_for_reports():
    children = factories.ChildFactory.create_batch(3)
    refs = [c.reference for c in children]
    event = services.record_event(action="child.search", context=RequestContext.system(),
                                  details={"result_count": 3}, disclosed_refs=refs + [refs[0]])
    assert event.details["disclosed"] == sorted(refs)
    assert services.compute_hash(AccessEvent.objects.get(pk=event.pk)) == event.hash
    assert sorted(EventDisclosure.objects.filter(event_id=event.pk).values_list("child_ref", flat=True)) == sorted(refs)


def test_the_event_shares_the_callers_transaction():
    child = factories.ChildFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.record_event(action="child.view", context=RequestContext.system(), child=child)
        raise RuntimeError("the caller's work failed after auditing")
    assert not AccessEvent.objects.exists()
    assert not ChainHead.objects.filter(last_seq__gt=0).exists()


def test_when_the_event_cannot_be_written_the_callers_change_is_undone(audit_inserts_fail):
    """Fail closed: the caller's write and its audit event succeed or fail together."""
    child = factories.ChildFactory(given_names="Before")
    with pytest.raises(Exception), transaction.atomic():
        child.given_names = "After"
        child.save()
        services.record_event(action="child.update", context=RequestContext.system(), child=child)
    child.refresh_from_db()
    assert child.given_names == "Before"


def test_a_batch_of_events_is_linked_in_order_on_one_chain():
    first = services.record_event(action="job.start", context=RequestContext.system())
    child = factories.ChildFactory()
    batch = services.record_events(context=RequestContext.system("revoke_expired_grants"), events=[
        {"action": "grant.expired", "child": child, "details": {"grant_id": n}} for n in range(3)
    ] + [{"action": "child.search", "disclosed_refs": [child.reference]}])
    assert [e.seq for e in batch] == [2, 3, 4, 5] and {e.chain for e in batch} == {1}
    assert batch[0].prev_hash == first.hash and batch[1].prev_hash == batch[0].hash
    for event in batch:
        stored = AccessEvent.objects.get(pk=event.pk)
        assert stored.hash == event.hash == services.compute_hash(stored)
    assert ChainHead.objects.get(pk=1).last_hash == batch[-1].hash
    assert EventDisclosure.objects.get().event_id == batch[-1].pk
    assert integrity.verify(anchor_file="/nonexistent").ok
