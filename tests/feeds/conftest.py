from datetime import date

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from feeds.models import OrganisationToken
from signpost.celery import app as celery_app
from tests import factories

BULK_URL = "/api/v1/involvements/bulk"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Token-failure counters and rate limits live in the cache: start each test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Upload tasks run in-process here even when REDIS_URL is set (no worker in the test run)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def school_nursing(db):
    return factories.ServiceFactory(code="school-nursing", name="School nursing")


@pytest.fixture
def organisation(db, school_nursing):
    org = factories.OrganisationFactory(name="Riverside Health Trust")
    org.services.add(school_nursing)
    return org


def make_token(organisation, name="MIS export"):
    key = OrganisationToken.new_key()
    token = OrganisationToken.objects.create(name=name, organisation=organisation, prefix=key[:10],
                                             key_hash=OrganisationToken.hash_key(key))
    return token, key


@pytest.fixture
def token(organisation):
    return make_token(organisation)


@pytest.fixture
def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token[1]}")
    return client


def post_rows(client, rows, **extra):
    return client.post(BULK_URL, {"rows": rows, **extra}, format="json")


def row(n=1, **overrides):
    """A valid row; ``n`` varies the child and the external id."""
    data = {
        "external_id": f"EXT-{n}",
        "given_names": "Amelia",
        "family_name": f"Testperson{chr(65 + n % 26)}",
        "date_of_birth": "2015-03-27",
        "sex": "F",
        "nhs_number": factories.nhs_number_for(10_000 + n),
        "postcode": "W6 9LA",
        "service": "school-nursing",
        "started_on": "2024-09-02",
        "contact_phone": "020 7946 0000",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def amelia(organisation):
    """A known child with no identifiers on record: only demographics can find her."""
    return factories.ChildFactory(given_names="Amelia", family_name="Kociński", date_of_birth=date(2015, 3, 27),
                                  postcode="W6 9LA", sex="F", nhs_number=None,
                                  local_authority=organisation.local_authority)


@pytest.fixture
def la_admin(organisation):
    return factories.LAAdminFactory(local_authority=organisation.local_authority).user


@pytest.fixture
def other_la_admin(db):
    return factories.LAAdminFactory().user
