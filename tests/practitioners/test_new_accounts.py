"""An LA admin creates an approved practitioner account; the practitioner sets their own password."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from audit.models import AccessEvent
from practitioners import permissions, roles
from practitioners.models import Practitioner
from tests import factories
from tests.practitioners.test_practitioner_lifecycle import date_post, dates

pytestmark = pytest.mark.django_db
URL = reverse("practitioners:new_practitioner")


def account(cast, organisation=None, **overrides):
    return date_post(**{
        "first_name": "Priya", "last_name": "Shah", "email": "priya.shah@trust.example.org",
        "organisation": (organisation or cast.organisation).pk, "job_title": "Health visitor",
        "work_phone": "020 7946 0999", "username": "pshah", **dates(), **overrides})


def test_an_la_admin_creates_an_active_account_and_the_practitioner_sets_their_password(
        as_user, cast, client, django_capture_on_commit_callbacks):
    admin = as_user(cast.admin.user)
    assert "Create a practitioner account" in admin.get(reverse("practitioners:practitioner_list")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(URL, account(cast))
    practitioner = Practitioner.objects.get(user__username="pshah")
    assert response.status_code == 302
    assert response["Location"] == reverse("practitioners:practitioner_detail", kwargs={"pk": practitioner.pk})
    assert practitioner.status == Practitioner.Status.ACTIVE and practitioner.approved_by == cast.admin.user
    assert roles.has_role(practitioner.user, roles.PRACTITIONER)
    history = [(c.from_status, c.to_status, c.changed_by) for c in practitioner.status_changes.order_by("pk")]
    assert history == [("", "pending", cast.admin.user), ("pending", "active", cast.admin.user)]
    assert [e.action for e in AccessEvent.objects.filter(action__startswith="practitioner.").order_by("pk")] == [
        "practitioner.create", "practitioner.approve"]

    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["priya.shah@trust.example.org"]
    body = mail.outbox[0].body
    assert "pshah" in body and cast.organisation.name in body
    link = re.search(r"https?://[^/\s]+(/\S+)", body).group(1)
    new_password = "harbour-meadow-violin-73"
    client.logout()
    form = client.get(link, follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    practitioner.user.refresh_from_db()
    assert practitioner.user.check_password(new_password)
    assert not permissions.may_search(practitioner.user)  # until they sign in with their authenticator


def test_the_form_explains_each_mistake_and_creates_nothing(as_user, cast):
    factories.UserFactory(username="taken")
    response = as_user(cast.admin.user).post(URL, account(cast, username="taken", email="not-an-email",
                                                          vetting_expires_on=dates()["vetting_checked_on"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "That username is taken" in page and "Enter an email address in the correct format" in page
    assert not Practitioner.objects.filter(user__username="taken").exists()
    assert not AccessEvent.objects.filter(action="practitioner.create").exists()


def test_an_admin_cannot_create_accounts_for_another_areas_organisation(as_user, cast):
    elsewhere = factories.OrganisationFactory(local_authority=cast.other_la)
    response = as_user(cast.admin.user).post(URL, account(cast, organisation=elsewhere))
    assert response.status_code == 200 and "Choose an organisation from the list" in response.content.decode()
    assert not Practitioner.objects.filter(user__username="pshah").exists()


def test_people_who_are_not_la_admins_are_refused(as_user, cast):
    response = as_user(cast.practitioner.user).post(URL, account(cast))
    assert response.status_code == 403
    assert not Practitioner.objects.filter(user__username="pshah").exists()
    assert AccessEvent.objects.filter(action="access.refused", outcome="denied").exists()
