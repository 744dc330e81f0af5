import pytest
from django.db import connection

from audit.context import RequestContext
from audit.services import record_event
from practitioners import roles
from tests import factories


@pytest.fixture
def auditor(db):
    return factories.UserFactory(username="auditor1", roles=[roles.AUDITOR])


@pytest.fixture
def auditor_client(client, auditor, login_verified):
    return login_verified(client, auditor)


@pytest.fixture
def record():
    """Write an event as ``user`` (or the system) about ``child``, through the real service."""

    def write(action="child.view", user=None, **kwargs):
        return record_event(action=action, context=RequestContext(user=user, ip_address="192.0.2.1",
                                                                  user_agent="pytest"), **kwargs)

    return write


@pytest.fixture
def audit_inserts_fail(db):
    """A real database failure on insert into the audit table: a trigger, created inside
    the test's transaction so that the test's rollback takes it away again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("""CREATE FUNCTION test_refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'disk full (test)'; END $$""")
            cursor.execute("CREATE TRIGGER test_refuse_insert BEFORE INSERT ON audit_accessevent "
                           "FOR EACH ROW EXECUTE FUNCTION test_refuse_insert()")
        else:
            cursor.execute("CREATE TRIGGER test_refuse_insert BEFORE INSERT ON audit_accessevent "
                           "BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END")
