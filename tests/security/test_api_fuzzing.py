"""Schemathesis against the API's own OpenAPI schema, in-process (the WSGI app, no server).

For each operation, examples generated from the schema (valid ones, then ones breaking it)
are sent with a valid credential: a vetted practitioner's token for the children API, an
organisation's feed token for the bulk feed. Every answer must be below 500, carry a status
code and content type the schema documents, and match the documented body. Bounded by
SIGNPOST_FUZZ_EXAMPLES per operation and generation mode so the suite stays fast.
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, example, given, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from audit.context import RequestContext
from feeds.models import OrganisationToken
from practitioners.services import involvement_access_pairs, sync_organisation_access
from tests import factories
from tests.security import figures

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("SIGNPOST_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _one_connection_for_the_test():
    """The WSGI app closes the database connection after each request (request_finished), which
    would end the test's transaction on PostgreSQL; Django's own test client unhooks it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(db):
    """A practitioner's token (with a child they may open) and an organisation's feed token."""
    child = factories.ChildFactory()
    involvement = factories.InvolvementFactory(child=child)
    involvement.organisation.services.add(involvement.service)
    factories.InvolvementFactory(child=child, service=factories.ServiceFactory(sensitive=True))  # shown masked
    practitioner = factories.PractitionerFactory(organisation=involvement.organisation)
    feed_key = OrganisationToken.new_key()
    OrganisationToken.objects.create(name="MIS export", organisation=involvement.organisation, prefix=feed_key[:10],
                                     key_hash=OrganisationToken.hash_key(feed_key))
    sync_organisation_access(opened=involvement_access_pairs([involvement]), context=RequestContext.system("test"))
    row = {"external_id": "FUZZ-1", "given_names": child.given_names, "family_name": child.family_name,
           "date_of_birth": child.date_of_birth.isoformat(), "nhs_number": child.nhs_number or "",
           "service": involvement.service.code, "started_on": "2024-09-02"}
    return {
        "practitioner": f"Token {Token.objects.create(user=practitioner.user).key}", "feed": f"Token {feed_key}",
        # Valid requests the generator could not guess: a real reference, a search that finds, a feed row.
        "examples": {
            "GET /api/v1/children/{reference}/": {"path_parameters": {"reference": child.reference}},
            "POST /api/v1/children/search/": {"body": {"family_name": child.family_name,
                                                       "date_of_birth": child.date_of_birth.isoformat()},
                                              "media_type": "application/json"},
            "POST /api/v1/involvements/bulk": {"body": {"rows": [row]}, "media_type": "application/json"},
        },
    }


def operations():
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    return [result.ok() for result in schema.get_all_operations()]


def test_the_schema_describes_both_apis():
    labels = {operation.label for operation in operations()}
    assert {"POST /api/v1/children/search/", "GET /api/v1/children/{reference}/",
            "POST /api/v1/involvements/bulk"} <= labels


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_fuzzed_requests_never_get_a_5xx_and_every_answer_matches_the_schema(credentials, mode):
    failures, examples, server_errors, statuses = [], 0, 0, {}
    for operation in operations():
        credential = credentials["feed" if "/involvements/" in operation.path else "practitioner"]

        @example(case=operation.Case(**credentials["examples"][operation.label]))
        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            nonlocal examples, server_errors
            examples += 1
            cache.clear()  # a throttle's 429 would hide what the example does
            response = case.call(headers={"Authorization": credential})
            key = f"{operation.label} {response.status_code}"
            statuses[key] = statuses.get(key, 0) + 1
            server_errors += response.status_code >= 500
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as failure:  # noqa: BLE001 -- schemathesis' failures (a FailureGroup) are collected
                failures.append(f"{operation.label} {response.status_code}: {str(failure)[:400]}")

        fuzz()
    figures.count_fuzzing(examples, server_errors)
    print(f"schemathesis ({mode.value}): {examples} examples; answers {sorted(statuses.items())}")
    assert examples > 0
    assert failures == [], "\n\n".join(failures[:10])
