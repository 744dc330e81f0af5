"""Only auditors with a verified second factor reach the console; every refusal is audited."""

import pytest
from django.urls import reverse

from audit.models import AccessEvent
from practitioners import roles
from tests import factories

pytestmark = pytest.mark.django_db

PAGES = [
    ("audit:events", {}),
    ("audit:export", {}),
    ("audit:child_report", {}),
    ("audit:child_report_csv", {"ref": "C-AAAAA-BBBBB"}),
    ("audit:anomalies", {}),
]


def review_url(db_event_id=None):
    return reverse("audit:review_anomaly", kwargs={"key": "search-volume:1:2026-01-01"})


def urls():
    return [(reverse(name), query) for name, query in PAGES] + [(review_url(), {})]


@pytest.mark.parametrize("url, query", urls())
def test_an_anonymous_visitor_is_sent_to_sign_in(client, url, query):
    response = client.get(url, query)
    assert response.status_code == 302
    assert response.url.startswith(reverse("two_factor:login"))


@pytest.mark.parametrize("url, query", urls())
def test_an_auditor_without_a_verified_second_factor_is_refused_and_the_refusal_audited(client, url, query):
    auditor = factories.UserFactory(roles=[roles.AUDITOR])
    client.force_login(auditor)
    assert client.get(url, query).status_code == 403
    refusal = AccessEvent.objects.get(action="audit.console.refused")
    assert (refusal.actor_id, refusal.outcome, refusal.details["path"]) == (auditor.pk, "denied", url)


@pytest.mark.parametrize("role", [roles.PRACTITIONER, roles.LA_ADMIN])
@pytest.mark.parametrize("url, query", urls())
def test_other_roles_are_refused_even_with_a_second_factor(client, login_verified, url, query, role):
    user = factories.PractitionerFactory().user if role == roles.PRACTITIONER else \
        factories.LAAdminFactory().user
    login_verified(client, user)
    assert client.get(url, query).status_code == 403
    assert AccessEvent.objects.filter(action="audit.console.refused", actor_id=user.pk).count() == 1


def test_a_superuser_is_no_auditor(client, login_verified):
    admin = factories.UserFactory(is_superuser=True, is_staff=True)
    login_verified(client, admin)
    assert client.get(reverse("audit:events")).status_code == 403


def test_a_deactivated_auditor_is_refused(auditor, client, login_verified):
    login_verified(client, auditor)
    auditor.is_active = False
    auditor.save()
    assert client.get(reverse("audit:events")).status_code in (302, 403)


def test_the_audit_log_is_in_the_auditors_navigation(auditor_client):
    response = auditor_client.get(reverse("home"))
    assert f'href="{reverse("audit:events")}"'.encode() in response.content
