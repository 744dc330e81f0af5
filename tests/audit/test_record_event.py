"""The audit service appends hash-chained events."""

import pytest

from audit import services
from audit.context import RequestContext
from audit.models import AccessEvent
from tests import factories

pytestmark = pytest.mark.django_db


def test_each_event_links_to_the_previous_one_by_hash():
    context = RequestContext.system("test")
    first = services.record_event(action="test.one", context=context)
    second = services.record_event(action="test.two", context=context)
    assert first.prev_hash == services.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert second.hash == services.compute_hash(second)


def test_an_event_names_a_child_only_by_its_pseudonymous_reference():
    child = factories.ChildFactory(given_names="Zebedee")
    event = services.record_event(action="child.view", context=RequestContext.system(), child=child)
    stored = AccessEvent.objects.get(pk=event.pk)
    assert stored.child_ref == child.reference
    assert "Zebedee" not in str(stored.details) and "Zebedee" not in stored.reason


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
