"""Shared cast for the search and record tests: a vetted practitioner signed in with a second factor."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners import roles
from practitioners.models import AccessGrant, Practitioner
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
    """Signed in with a password only: the practitioner has an authenticator, but this session
    skipped the code (without one, the page guards send them to set one up)."""
    TOTPDevice.objects.create(user=searcher.user, name="phone", confirmed=True)
    client.force_login(searcher.user)
    return client


NOT_SEARCHERS = ["la_admin", "auditor", "suspended", "lapsed_vetting"]


@pytest.fixture
def not_a_searcher(db):
    """not_a_searcher(who), ``who`` in NOT_SEARCHERS: a user with a second factor who is not an
    active, vetted practitioner, so every search and record page and endpoint refuses them."""

    def make(who):
        return {
            "la_admin": lambda: factories.LAAdminFactory().user,
            "auditor": lambda: factories.UserFactory(roles=[roles.AUDITOR]),
            "suspended": lambda: factories.PractitionerFactory(status=Practitioner.Status.SUSPENDED).user,
            "lapsed_vetting": lambda: factories.PractitionerFactory(vetting_expires_on=date(2020, 1, 1)).user,
        }[who]()

    return make


@pytest.fixture
def audit_refuses_writes(db):
    """audit_refuses_writes(): from now on the database itself refuses new audit events, as a full
    disk or a revoked privilege would. The test's transaction rollback removes the trigger."""

    def refuse():
        table = AccessEvent._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("CREATE FUNCTION h4_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                               "$$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$")
                cursor.execute(f"CREATE TRIGGER h4_refuse_audit BEFORE INSERT ON {table} "
                               "FOR EACH ROW EXECUTE FUNCTION h4_refuse_audit()")
            else:
                cursor.execute(f"CREATE TRIGGER h4_refuse_audit BEFORE INSERT ON {table} "
                               "BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END")

    return refuse
