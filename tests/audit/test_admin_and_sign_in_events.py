"""The Django admin and signing in and out are audited too."""

import pytest
from django.urls import reverse

from audit.models import AccessEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(client, login_verified):
    user = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    login_verified(client, user)
    return user


def test_every_staff_request_to_the_admin_is_an_event(client, superuser):
    client.get(reverse("admin:index"))
    event = AccessEvent.objects.get(action="admin.view")
    assert (event.actor_id, event.details["view"], event.details["method"]) == (superuser.pk, "index", "GET")


def test_opening_a_child_in_the_admin_names_the_child(client, superuser):
    child = factories.ChildFactory()
    client.get(reverse("admin:children_child_change", args=[child.pk]))
    event = AccessEvent.objects.get(action="admin.view")
    assert event.child_ref == child.reference and event.details["object_id"] == str(child.pk)


def test_opening_an_involvement_in_the_admin_names_its_child(client, superuser):
    involvement = factories.InvolvementFactory()
    client.get(reverse("admin:children_involvement_change", args=[involvement.pk]))
    assert AccessEvent.objects.get(action="admin.view").child_ref == involvement.child.reference


def test_the_admin_shows_nothing_if_its_audit_event_cannot_be_written(client, superuser, audit_inserts_fail):
    child = factories.ChildFactory(given_names="Ottoline")
    client.raise_request_exception = False
    response = client.get(reverse("admin:children_child_change", args=[child.pk]))
    assert response.status_code == 500
    assert b"Ottoline" not in response.content


def test_the_admin_sign_in_page_is_not_an_event_for_a_visitor(client):
    client.get(reverse("admin:login"))
    assert not AccessEvent.objects.filter(action="admin.view").exists()


def test_signing_in_and_out_are_events(client):
    user = factories.UserFactory(username="sam", password="correct-horse-battery-staple")
    client.force_login(user)
    client.post(reverse("logout"))
    assert list(AccessEvent.objects.filter(actor_id=user.pk).order_by("id").values_list("action", flat=True)) == [
        "login.success", "logout"]


def test_a_failed_sign_in_is_a_denied_event_without_the_password(client):
    factories.UserFactory(username="sam")
    client.post(reverse("two_factor:login"), {"login_view-current_step": "auth", "auth-username": "sam",
                                              "auth-password": "wrong-password-123"})
    event = AccessEvent.objects.get(action="login.failure")
    assert event.outcome == "denied" and event.details == {"username": "sam", "stage": "password"}
    assert "wrong-password-123" not in str(event.details) + event.reason
