"""The audit request id is the server's own: a client's X-Request-ID is logged beside it, never trusted."""

import logging
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners.models import AccessRequest
from practitioners.services import involvement_access_pairs, sync_organisation_access
from tests import factories

pytestmark = pytest.mark.django_db
FORGED = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def granted(login_verified, client):
    child = factories.ChildFactory()
    involvement = factories.InvolvementFactory(child=child)
    practitioner = factories.PractitionerFactory(organisation=involvement.organisation)
    sync_organisation_access(opened=involvement_access_pairs([involvement]), context=RequestContext.system("test"))
    login_verified(client, practitioner.user)
    return practitioner, child


def test_a_client_sent_request_id_is_never_the_audit_request_id(client, granted):
    _, child = granted
    response = client.get(child.get_absolute_url(), HTTP_X_REQUEST_ID=FORGED)
    event = AccessEvent.objects.get(action="child.view")
    assert event.request_id != FORGED and re.fullmatch(r"[0-9a-f]{32}", event.request_id)
    assert response["X-Request-ID"] == event.request_id


def test_two_requests_sending_the_same_id_get_different_audit_ids(client, granted):
    _, child = granted
    client.get(child.get_absolute_url(), HTTP_X_REQUEST_ID=FORGED)
    client.get(child.get_absolute_url(), HTTP_X_REQUEST_ID=FORGED)
    ids = list(AccessEvent.objects.filter(action="child.view").values_list("request_id", flat=True))
    assert len(ids) == 2 and len(set(ids)) == 2 and FORGED not in ids


def test_every_event_of_one_request_shares_the_servers_id(client, login_verified):
    """Approving an access request writes two events: one id, the server's."""
    admin = factories.LAAdminFactory()
    organisation = factories.OrganisationFactory(local_authority=admin.local_authority)
    child = factories.ChildFactory(local_authority=admin.local_authority)
    requester = factories.PractitionerFactory(organisation=organisation)
    request = AccessRequest.objects.create(practitioner=requester, child=child, reason="Allocated for assessment")
    login_verified(client, admin.user)
    expires = timezone.localdate() + timedelta(days=30)
    client.post(reverse("practitioners:decide_access_request", kwargs={"pk": request.pk}),
                {"decision": "approve", "expires_on_0": expires.day, "expires_on_1": expires.month,
                 "expires_on_2": expires.year}, HTTP_X_REQUEST_ID=FORGED)
    ids = set(AccessEvent.objects.filter(action__in=["grant.access_request", "access_request.approve"])
              .values_list("request_id", flat=True))
    assert len(ids) == 1 and FORGED not in ids


def test_the_api_ignores_the_client_id_too(db):
    practitioner = factories.PractitionerFactory()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=practitioner.user).key}")
    api.post("/api/v1/children/search/", {"nhs_number": factories.nhs_number_for(1)}, format="json",
             HTTP_X_REQUEST_ID=FORGED)
    assert AccessEvent.objects.get(action="child.search").request_id != FORGED


def test_the_client_id_is_logged_beside_ours_cut_short_and_cleaned(client, caplog):
    hostile = "abc\r\nFAKE LOG LINE <script>" + "x" * 500
    with caplog.at_level(logging.DEBUG, logger="signpost.request"):
        response = client.get("/", HTTP_X_REQUEST_ID=hostile)
    [line] = [r.getMessage() for r in caplog.records if r.name == "signpost.request"]
    assert f"request {response['X-Request-ID']} " in line
    logged = re.search(r"client_id=(\S+)", line).group(1)
    assert logged.startswith("abcFAKELOGLINEscript") and len(logged) == 64
    assert "\n" not in line and "<" not in line
