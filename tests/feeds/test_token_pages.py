"""LA admins issue, rotate and revoke organisation tokens; a key is shown once and stored only as a hash."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AccessEvent
from feeds.models import OrganisationToken
from tests import factories
from tests.feeds.conftest import make_token, post_rows, row

pytestmark = pytest.mark.django_db


def shown_key(response) -> str:
    match = re.search(r'value="(sp_[^"]+)"', response.content.decode())
    assert match, "the key is on the page"
    return match.group(1)


def api_with(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def admin_client(client, login_verified, la_admin):
    return login_verified(client, la_admin)


def test_issuing_a_token_shows_the_key_once_and_stores_only_its_hash(admin_client, organisation, la_admin):
    response = admin_client.post(reverse("feeds:tokens"), {"organisation": organisation.pk, "name": "MIS nightly"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = shown_key(response)
    token = OrganisationToken.objects.get()
    assert (token.name, token.organisation, token.created_by) == ("MIS nightly", organisation, la_admin)
    assert token.key_hash == OrganisationToken.hash_key(key) and key not in token.prefix
    assert key not in admin_client.get(reverse("feeds:tokens")).content.decode()
    assert post_rows(api_with(key), [row(1)]).status_code == 200
    event = AccessEvent.objects.get(action="feed.token.issue")
    assert event.details["token_id"] == token.pk and key not in str(event.details)


def test_a_token_cannot_be_issued_for_another_las_organisation(admin_client):
    elsewhere = factories.OrganisationFactory()
    response = admin_client.post(reverse("feeds:tokens"), {"organisation": elsewhere.pk, "name": "x"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not OrganisationToken.objects.exists()


def test_a_token_needs_a_name_and_the_form_says_so(admin_client, organisation):
    response = admin_client.post(reverse("feeds:tokens"), {"organisation": organisation.pk, "name": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert "There is a problem" in body and "Enter a name for the token." in body


def test_rotating_replaces_the_key_and_the_old_one_stops_working(admin_client, organisation):
    old, old_key = make_token(organisation, name="MIS")
    response = admin_client.post(reverse("feeds:token_rotate", args=[old.pk]))
    new_key = shown_key(response)
    new = OrganisationToken.objects.get(rotated_from=old)
    assert new.name == "MIS" and new.organisation == organisation
    assert OrganisationToken.objects.get(pk=old.pk).revoked_at is not None
    assert post_rows(api_with(old_key), [row(1)]).status_code == 401
    assert post_rows(api_with(new_key), [row(1)]).status_code == 200
    assert AccessEvent.objects.filter(action="feed.token.rotate").count() == 1


def test_revoking_asks_first_then_refuses_the_token_at_once(admin_client, organisation):
    token, key = make_token(organisation)
    page = admin_client.get(reverse("feeds:token_revoke", args=[token.pk]))
    assert b"Revoke the token" in page.content
    assert OrganisationToken.objects.get(pk=token.pk).revoked_at is None
    response = admin_client.post(reverse("feeds:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    assert post_rows(api_with(key), [row(1)]).status_code == 401
    assert AccessEvent.objects.filter(action="feed.token.revoke").count() == 1


def test_revoking_twice_changes_nothing_the_second_time(admin_client, organisation):
    token, _ = make_token(organisation)
    admin_client.post(reverse("feeds:token_revoke", args=[token.pk]))
    first = OrganisationToken.objects.get(pk=token.pk).revoked_at
    admin_client.post(reverse("feeds:token_revoke", args=[token.pk]))
    assert OrganisationToken.objects.get(pk=token.pk).revoked_at == first
    assert AccessEvent.objects.filter(action="feed.token.revoke").count() == 1


def test_the_list_shows_names_prefixes_and_last_use_never_keys(admin_client, organisation):
    token, key = make_token(organisation, name="Nightly")
    post_rows(api_with(key), [row(1)])
    body = admin_client.get(reverse("feeds:tokens")).content.decode()
    assert "Nightly" in body and token.prefix in body and key not in body and "Never" not in body
