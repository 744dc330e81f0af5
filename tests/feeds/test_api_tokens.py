"""Organisation tokens on the bulk endpoint: bound to one organisation, refused once revoked, throttled when wrong."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AccessEvent
from children.models import Involvement
from feeds.models import OrganisationToken
from tests import factories
from tests.feeds.conftest import BULK_URL, make_token, post_rows, row

pytestmark = pytest.mark.django_db


def client_with(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_a_token_writes_involvements_for_its_own_organisation(api, organisation):
    response = post_rows(api, [row(1)])
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["status"] == "created"
    assert Involvement.objects.get(external_id="EXT-1").organisation == organisation


def test_another_organisations_token_cannot_touch_this_organisations_involvements(api, organisation, school_nursing):
    post_rows(api, [row(1, started_on="2024-09-02")])
    other = factories.OrganisationFactory()
    other.services.add(school_nursing)
    _, other_key = make_token(other)
    intruder = client_with(f"Token {other_key}")

    response = post_rows(intruder, [row(1, started_on="2020-01-01", ended_on="2020-02-01")])

    assert response.status_code == 200
    mine = Involvement.objects.get(organisation=organisation, external_id="EXT-1")
    assert (mine.started_on.isoformat(), mine.ended_on) == ("2024-09-02", None)
    assert Involvement.objects.get(organisation=other, external_id="EXT-1").started_on.isoformat() == "2020-01-01"


def test_a_batch_naming_another_organisation_is_refused_and_nothing_is_written(organisation, school_nursing):
    other = factories.OrganisationFactory()
    _, other_key = make_token(other)

    response = post_rows(client_with(f"Token {other_key}"), [row(1)], organisation=organisation.pk)

    assert response.status_code == 403
    assert not Involvement.objects.exists()
    assert AccessEvent.objects.filter(action="feed.bulk", outcome="denied").count() == 1


def test_a_revoked_token_is_refused_at_once(api, token):
    OrganisationToken.objects.filter(pk=token[0].pk).update(revoked_at=timezone.now())
    response = post_rows(api, [row(1)])
    assert response.status_code == 401
    assert not Involvement.objects.exists()
    event = AccessEvent.objects.get(action="feed.token.refused")
    assert event.outcome == "denied" and event.details["token_id"] == token[0].pk


@pytest.mark.parametrize("header", [None, "Token sp_not-a-real-token", "Token", "Basic dXNlcjpwYXNz"])
def test_no_token_or_an_unknown_token_is_refused(organisation, header):
    response = post_rows(client_with(header), [row(1)])
    assert response.status_code == 401
    assert not Involvement.objects.exists()


def test_bearer_is_accepted_as_well_as_token(token):
    response = post_rows(client_with(f"Bearer {token[1]}"), [row(1)])
    assert response.status_code == 200


def test_a_practitioner_session_cannot_use_the_feed_endpoint(client, login_verified):
    practitioner = factories.PractitionerFactory()
    login_verified(client, practitioner.user)
    response = client.post(BULK_URL, {"rows": [row(1)]}, content_type="application/json")
    assert response.status_code == 401


def test_only_a_hash_of_the_key_is_stored(token):
    stored, key = token
    assert key not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.key_hash == OrganisationToken.hash_key(key)


def test_use_records_the_last_used_time_at_most_once_a_minute(api, token):
    post_rows(api, [row(1)])
    first = OrganisationToken.objects.get(pk=token[0].pk).last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=30)
    post_rows(api, [row(2)])
    assert OrganisationToken.objects.get(pk=token[0].pk).last_used_at == first
    OrganisationToken.objects.filter(pk=token[0].pk).update(last_used_at=first - timedelta(minutes=2))
    post_rows(api, [row(3)])
    assert OrganisationToken.objects.get(pk=token[0].pk).last_used_at > first - timedelta(minutes=1)


def test_repeated_wrong_tokens_are_throttled_and_each_refusal_audited(settings, token):
    settings.FEED_TOKEN_FAILURE_LIMIT = 3
    wrong = client_with("Token sp_guess")
    assert [post_rows(wrong, [row(1)]).status_code for _ in range(3)] == [401, 401, 401]
    throttled = post_rows(wrong, [row(1)])
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) == settings.FEED_TOKEN_LOCKOUT_MINUTES * 60
    assert not Involvement.objects.exists()
    events = list(AccessEvent.objects.filter(action="feed.token.refused").order_by("id"))
    assert [(e.outcome, e.details["failures"], e.details["throttled"]) for e in events] == [
        ("denied", 1, False), ("denied", 2, False), ("denied", 3, False), ("denied", 4, True)]


def test_one_clients_failures_never_lock_out_another_organisations_right_token(settings, token):
    """Issue 17: the lockout was keyed on the client address alone, so one attacker behind a proxy (every
    client shares its address) locked every organisation's feed out. A right key is always accepted."""
    settings.FEED_TOKEN_FAILURE_LIMIT = 2
    attacker = client_with("Token sp_guess")
    for _ in range(5):
        post_rows(attacker, [row(1)])  # the same proxy address as every other client here
    assert post_rows(attacker, [row(1)]).status_code == 429
    assert post_rows(client_with(f"Token {token[1]}"), [row(1)]).status_code == 200


def test_guessing_at_an_organisations_prefix_throttles_the_guesser_not_the_organisation(settings, token):
    settings.FEED_TOKEN_FAILURE_LIMIT = 2
    stored, key = token
    near_miss = client_with(f"Token {key[:10]}{'A' * (len(key) - 10)}")  # knows the public prefix
    statuses = [post_rows(near_miss, [row(1)]).status_code for _ in range(4)]
    assert statuses == [401, 401, 429, 429]
    event = AccessEvent.objects.filter(action="feed.token.refused").latest("id")
    assert event.details["organisation_id"] == stored.organisation_id and event.details["throttled"]
    assert post_rows(client_with(f"Token {key}"), [row(1)]).status_code == 200
    assert post_rows(client_with("Token sp_other-guess"), [row(2)]).status_code == 401  # a separate count


def test_another_address_is_not_throttled(settings, token):
    settings.FEED_TOKEN_FAILURE_LIMIT = 2
    wrong = client_with("Token sp_guess")
    for _ in range(3):
        post_rows(wrong, [row(1)])
    elsewhere = client_with("Token sp_guess")
    response = elsewhere.post(BULK_URL, {"rows": [row(1)]}, format="json", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 401


@pytest.mark.parametrize("key", ["sp_\x00\x00\x00\x00\x00\x00\x00xyz", "sp_%00abcdefgh", "sp_" + "A" * 5000])
def test_a_malformed_key_is_refused_not_a_crash(organisation, key):
    response = post_rows(client_with(f"Token {key}"), [row(1)])
    assert response.status_code == 401
