"""The service navigation: each role sees the pages of its role, and a person with several roles sees each."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.urls import NoReverseMatch, reverse

from practitioners import roles
from signpost.context_processors import signpost
from tests import factories

pytestmark = pytest.mark.django_db


def labels(rf, user):
    request = rf.get("/")
    request.user = user
    return [item["label"] for item in signpost(request).get("nav_items", [])]


def audit_log() -> list[str]:
    """The audit console's entry, once the audit issue's pages are wired into this build."""
    try:
        reverse("audit:events")
    except NoReverseMatch:
        return []
    return ["Audit log"]


def test_a_practitioner_sees_search_their_requests_and_sign_in_security(rf):
    user = factories.PractitionerFactory().user
    assert labels(rf, user) == ["Home", "Search", "My access requests", "Sign-in security"]


def test_a_practitioner_with_the_data_manager_duty_also_sees_uploads(rf):
    user = factories.PractitionerFactory(data_manager=True).user
    assert labels(rf, user) == ["Home", "Search", "My access requests", "Upload involvements", "Sign-in security"]


def test_an_la_admin_sees_the_console_and_data_feeds(rf):
    assert labels(rf, factories.LAAdminFactory().user) == ["Home", "LA admin console", "Data feeds",
                                                           "Sign-in security"]


def test_an_auditor_sees_the_audit_log_and_no_practitioner_or_admin_pages(rf):
    user = factories.UserFactory(roles=[roles.AUDITOR])
    assert labels(rf, user) == ["Home", *audit_log(), "Sign-in security"]


@pytest.fixture
def practitioner_and_la_admin(db):
    practitioner = factories.PractitionerFactory(data_manager=True)
    factories.LAAdminFactory(user=practitioner.user, local_authority=practitioner.organisation.local_authority)
    practitioner.user.groups.add(Group.objects.get_or_create(name=roles.LA_ADMIN)[0])
    return practitioner.user


def test_a_practitioner_who_is_also_an_la_admin_sees_both_sets_of_pages(rf, practitioner_and_la_admin):
    assert labels(rf, practitioner_and_la_admin) == ["Home", "Search", "My access requests", "LA admin console",
                                                     "Data feeds", "Upload involvements", "Sign-in security"]


PEOPLE = {
    "practitioner": lambda: factories.PractitionerFactory().user,
    "data_manager": lambda: factories.PractitionerFactory(data_manager=True).user,
    "la_admin": lambda: factories.LAAdminFactory().user,
    "auditor": lambda: factories.UserFactory(roles=[roles.AUDITOR]),
}


@pytest.mark.parametrize("person", [*PEOPLE, "practitioner_and_la_admin"])
def test_every_entry_shown_opens_for_the_person_it_is_shown_to(client, login_verified, request, person):
    user = request.getfixturevalue(person) if person not in PEOPLE else PEOPLE[person]()
    login_verified(client, user)
    nav = client.get(reverse("home")).context["nav_items"]
    assert len(nav) > 2  # more than Home and Sign-in security: the entries of the person's role(s)
    for item in nav:
        assert client.get(item["url"]).status_code == 200, item["label"]


def test_a_visitor_who_is_not_signed_in_gets_no_navigation(rf):
    assert labels(rf, AnonymousUser()) == []
