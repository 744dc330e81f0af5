"""LA admins judge an access request or a break-glass use knowing who the child is (name, date of
birth, area), and that sight of the child is audited; practitioners can tell their requests apart."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessEvent
from practitioners import selectors
from practitioners.models import AccessGrant, AccessRequest
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def child(cast):
    return factories.ChildFactory(local_authority=cast.la, given_names="Rosalind", family_name="Achterberg",
                                  date_of_birth=date(2016, 4, 23), postcode="W6 9LA")


@pytest.fixture
def access_request(cast, child):
    return AccessRequest.objects.create(practitioner=cast.practitioner, child=child,
                                        reason="Allocated for a child and family assessment")


@pytest.fixture
def break_glass(cast, child):
    return AccessGrant.objects.create(practitioner=cast.practitioner, child=child, source=AccessGrant.Source.BREAK_GLASS,
                                      reason="Child reported missing tonight, police asking",
                                      expires_at=timezone.now() + timedelta(hours=24))


def decide_url(access_request):
    return reverse("practitioners:decide_access_request", kwargs={"pk": access_request.pk})


def review_url(grant):
    return reverse("practitioners:review_break_glass", kwargs={"pk": grant.pk})


FACTS = ("Rosalind Achterberg", "23 April 2016", "Hammersmith and Fulham")


@pytest.mark.parametrize("page, action", [("decide", "console.access_request"), ("review", "console.break_glass_use")])
def test_the_la_admin_sees_the_childs_name_date_of_birth_and_area_and_that_is_audited_with_the_child(
        as_user, cast, child, access_request, break_glass, page, action):
    url = decide_url(access_request) if page == "decide" else review_url(break_glass)
    body = as_user(cast.admin.user).get(url).content.decode()
    for fact in FACTS:
        assert fact in body, fact
    assert "W6 9LA" not in body and "1 Test Street" not in body  # the address is not needed to decide
    event = AccessEvent.objects.get(action=action)
    assert event.child_ref == child.reference and event.actor_id == cast.admin.user.pk
    assert event.details["shown"] == "name, date of birth, area"


def test_a_decision_sent_back_with_errors_shows_the_child_again_and_is_audited_again(as_user, cast, access_request):
    admin = as_user(cast.admin.user)
    admin.get(decide_url(access_request))
    response = admin.post(decide_url(access_request), {"decision": "refuse", "refusal_reason": ""})
    assert response.status_code == 200 and "Rosalind Achterberg" in response.content.decode()
    assert AccessEvent.objects.filter(action="console.access_request",
                                      child_ref=access_request.child.reference).count() == 2


def test_the_owning_la_admin_sees_a_shielded_childs_area_marked_as_shielded(as_user, cast, child, access_request):
    child.shielded = True
    child.save()
    body = as_user(cast.admin.user).get(decide_url(access_request)).content.decode()
    assert "Hammersmith and Fulham" in body and "Location shielded" in body


def test_a_shielded_childs_area_is_hidden_from_anyone_but_an_admin_of_its_own_area(cast, child):
    child.shielded = True
    child.save()
    assert selectors.child_facts_for_decision(child, viewer=cast.admin.user).area == "Hammersmith and Fulham"
    for viewer in (cast.other_admin.user, cast.practitioner.user, cast.auditor):
        facts = selectors.child_facts_for_decision(child, viewer=viewer)
        assert facts.area == "" and facts.name == "Rosalind Achterberg"
    child.shielded = False
    child.save()
    assert selectors.child_facts_for_decision(child, viewer=cast.other_admin.user).area == "Hammersmith and Fulham"


@pytest.mark.parametrize("page", ["decide", "review"])
@pytest.mark.parametrize("who", ["other_admin", "practitioner", "auditor"])
def test_nobody_but_the_childs_la_admins_sees_the_child_on_these_pages(as_user, cast, access_request, break_glass,
                                                                        page, who):
    user = {"other_admin": cast.other_admin.user, "practitioner": cast.practitioner.user, "auditor": cast.auditor}[who]
    url = decide_url(access_request) if page == "decide" else review_url(break_glass)
    response = as_user(user).get(url)
    assert response.status_code == 403
    body = response.content.decode()
    assert "Rosalind" not in body and "Achterberg" not in body and "2016" not in body
    assert not AccessEvent.objects.filter(action__in=["console.access_request", "console.break_glass_use"]).exists()


def test_a_practitioner_sees_the_names_on_their_own_requests_only_and_the_view_records_them(
        as_user, cast, child, access_request):
    other_child = factories.ChildFactory(local_authority=cast.la, given_names="Ignatius", family_name="Vantongeren")
    AccessRequest.objects.create(practitioner=factories.PractitionerFactory(organisation=cast.organisation),
                                 child=other_child, reason="Someone else's request")
    body = as_user(cast.practitioner.user).get(reverse("practitioners:my_requests")).content.decode()
    assert "Rosalind Achterberg" in body and child.reference in body
    assert "Vantongeren" not in body and "Hammersmith" not in body.split("<main", 1)[-1]
    event = AccessEvent.objects.get(action="access_request.list_own")
    assert event.details["disclosed"] == [child.reference]
