"""Field-level change history (django-auditlog) of records access rests on, shown in the admin."""

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.urls import reverse

from audit.change_history import TRACKED
from practitioners.models import Practitioner
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("label", [label for label, _ in TRACKED])
def test_each_model_access_decisions_rest_on_has_a_change_history(label):
    assert auditlog.contains(apps.get_model(label))


def test_a_change_to_a_practitioner_records_who_changed_which_field(client, login_verified):
    practitioner = factories.PractitionerFactory()
    practitioner.status = Practitioner.Status.SUSPENDED
    practitioner.save()
    entry = LogEntry.objects.get_for_object(practitioner).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.changes_dict["status"] == ["active", "suspended"]


def test_a_childs_derived_postcode_keys_stay_out_of_its_history():
    child = factories.ChildFactory(postcode="W6 9LA")
    child.postcode = "LS6 1AA"
    child.save()
    changes = LogEntry.objects.get_for_object(child).filter(action=LogEntry.Action.UPDATE).get().changes_dict
    assert "postcode" in changes and "postcode_district" not in changes and "postcode_sector" not in changes


def test_the_history_is_shown_on_the_objects_admin_page(client, login_verified):
    admin = factories.UserFactory(is_staff=True, is_superuser=True)
    grant_child = factories.ChildFactory()
    practitioner = factories.PractitionerFactory()
    practitioner.job_title = "Team manager"
    practitioner.save()
    login_verified(client, admin)
    response = client.get(reverse("admin:practitioners_practitioner_change", args=[practitioner.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Change history" in page and "job_title" in page and "Team manager" in page
    # A model without history gets no empty box.
    other = client.get(reverse("admin:practitioners_localauthority_change", args=[grant_child.local_authority_id]))
    assert "Change history" not in other.content.decode()
