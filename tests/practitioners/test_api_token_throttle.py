"""Wrong practitioner API tokens are counted, audited and throttled (issue 17: they never were), per client
address, without ever refusing a right token because of someone else's failures."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AccessEvent

pytestmark = pytest.mark.django_db
RECORD = "/api/v1/children/{}/"


@pytest.fixture(autouse=True)
def _clean_counts():
    cache.clear()
    yield
    cache.clear()


def call(key: str, address: str = "127.0.0.1", child=None):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(RECORD.format(child.reference if child else "C-NNNNN-22222"))


def test_wrong_tokens_are_refused_then_throttled_and_every_refusal_is_audited(cast, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    statuses = [call(f"{n:040x}").status_code for n in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    response = call("f" * 40)
    assert int(response["Retry-After"]) == settings.API_TOKEN_LOCKOUT_MINUTES * 60
    events = list(AccessEvent.objects.filter(action="api.token.refused").order_by("id"))
    assert [(e.outcome, e.details["failures"], e.details["throttled"]) for e in events] == [
        ("denied", n, n > 3) for n in range(1, 7)]
    assert all(e.actor_id is None and e.ip_address == "127.0.0.1" for e in events)
    assert all(f"{n:040x}" not in str(e.details) + e.reason for e in events for n in range(5))  # no keys kept


def test_a_right_token_is_never_refused_because_of_other_clients_failures(cast, settings):
    """Behind a proxy every client has the same address: one client's guesses must not lock out the others."""
    settings.API_TOKEN_FAILURE_LIMIT = 2
    for n in range(4):
        call(f"{n:040x}")
    key = Token.objects.create(user=cast.practitioner.user).key
    assert call(key, child=cast.child).status_code == 403  # through the gate: no grant on this child, not 401/429


def test_another_address_has_its_own_count(cast, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 1
    call("0" * 40)
    assert call("1" * 40).status_code == 429
    assert call("1" * 40, address="10.9.8.7").status_code == 401


def test_a_malformed_header_counts_as_a_failure(db, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 1
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two parts")
    assert client.get(RECORD.format("C-NNNNN-22222")).status_code == 401
    assert client.get(RECORD.format("C-NNNNN-22222")).status_code == 429
    assert AccessEvent.objects.filter(action="api.token.refused").count() == 2
