"""Shared cast for the search and record tests: a vetted practitioner signed in with a second factor."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.context import RequestContext
from practitioners import roles
from practitioners.models import AccessGrant
from practitioners.services import grant_access
from tests import factories


@pytest.fixture
def searcher(db):
    return factories.PractitionerFactory()


@pytest.fixture
def searcher_client(client, searcher, login_verified):
    return login_verified(client, searcher.user)


@pytest.fixture
def grant():
    """grant(practitioner, child): a live access-request grant, as an LA admin's approval makes."""

    def make(practitioner, child, hours=24):
        return grant_access(practitioner=practitioner, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                            reason="Team around the child meeting", expires_at=timezone.now() + timedelta(hours=hours),
                            context=RequestContext.system("test"))

    return make


@pytest.fixture
def la_admin_of():
    """la_admin_of(local_authority): a user who is LA admin there (no practitioner record)."""

    def make(local_authority):
        return factories.LAAdminFactory(local_authority=local_authority).user

    return make


@pytest.fixture
def unverified_client(client, searcher):
    """Signed in with a password only: no verified second factor."""
    client.force_login(searcher.user)
    return client


@pytest.fixture
def auditor_client(client, login_verified):
    user = factories.UserFactory(roles=[roles.AUDITOR])
    return login_verified(client, user)
