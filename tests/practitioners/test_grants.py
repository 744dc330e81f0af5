"""Who may open a child's record: their organisation while it has an open involvement with the
child (guardian's group permission, one per organisation and child), or a live personal grant."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent
from children.models import Involvement
from practitioners import permissions, services
from practitioners.models import AccessGrant, ChildGroupObjectPermission
from practitioners.services import involvement_access_pairs
from tests import factories

pytestmark = pytest.mark.django_db
SYSTEM = RequestContext.system("test")


@pytest.fixture
def verified(monkeypatch):
    """These tests are about access, not the second factor: treat users as OTP-verified."""
    from django.contrib.auth.models import User

    monkeypatch.setattr(User, "is_verified", lambda self: True, raising=False)


def sync(*involvements, **kwargs):
    """Both directions are checked against the involvements, so the same pairs can go as both."""
    pairs = involvement_access_pairs(involvements)
    return services.sync_organisation_access(opened=pairs, closed=pairs, context=SYSTEM, **kwargs)


def test_an_open_involvement_opens_the_record_to_every_active_practitioner_of_that_organisation(verified):
    involvement = factories.InvolvementFactory()
    colleagues = [factories.PractitionerFactory(organisation=involvement.organisation) for _ in range(3)]
    outsider = factories.PractitionerFactory()
    assert len(sync(involvement)) == 1
    assert all(permissions.may_open_child(c, involvement.child) for c in colleagues)
    assert not permissions.may_open_child(outsider, involvement.child)
    assert ChildGroupObjectPermission.objects.count() == 1  # the organisation's, not one per practitioner
    assert not AccessGrant.objects.exists()
    event = AccessEvent.objects.get(action="grant.organisation")
    assert (event.child_ref, event.details) == (involvement.child.reference,
                                                {"organisation_id": involvement.organisation_id})


def test_a_practitioner_who_joins_later_sees_the_record_at_once_and_a_suspended_one_does_not(verified):
    involvement = factories.InvolvementFactory()
    sync(involvement)
    newcomer = factories.PractitionerFactory(organisation=involvement.organisation)
    suspended = factories.PractitionerFactory(organisation=involvement.organisation, status="suspended")
    assert permissions.may_open_child(newcomer, involvement.child)
    assert not permissions.may_open_child(suspended, involvement.child)


def test_ending_the_last_open_involvement_ends_the_access_and_running_twice_changes_nothing(verified):
    involvement = factories.InvolvementFactory()
    colleague = factories.PractitionerFactory(organisation=involvement.organisation)
    sync(involvement)
    assert len(sync(involvement)) == 0
    involvement.ended_on = date.today()
    involvement.save()
    assert sync(involvement).ended == {(involvement.organisation_id, involvement.child_id)}
    assert len(sync(involvement)) == 0
    assert not permissions.may_open_child(colleague, involvement.child)
    assert AccessEvent.objects.filter(action="grant.organisation_end", child_ref=involvement.child.reference).count() == 1


def test_access_stays_while_another_open_involvement_of_the_organisation_remains(verified):
    first = factories.InvolvementFactory()
    second = factories.InvolvementFactory(organisation=first.organisation, child=first.child)
    colleague = factories.PractitionerFactory(organisation=first.organisation)
    sync(first, second)
    Involvement.objects.filter(pk=first.pk).update(ended_on=date.today())
    assert len(sync(first)) == 0
    assert permissions.may_open_child(colleague, first.child)


def test_one_call_syncs_a_whole_batch_and_can_leave_auditing_to_the_caller(verified):
    organisation = factories.OrganisationFactory()
    opened = [factories.InvolvementFactory(organisation=organisation) for _ in range(3)]
    ending = [factories.InvolvementFactory(organisation=organisation) for _ in range(2)]
    sync(*ending)
    Involvement.objects.filter(pk__in=[i.pk for i in ending]).update(ended_on=date.today())
    before = AccessEvent.objects.count()
    change = sync(*opened, *ending, audit_each=False)
    assert (len(change.granted), len(change.ended)) == (3, 2)
    assert AccessEvent.objects.count() == before
    assert set(ChildGroupObjectPermission.objects.values_list("content_object_id", flat=True)) == {
        i.child_id for i in opened}


def test_an_organisation_without_an_access_group_gets_one_when_first_involved(verified):
    involvement = factories.InvolvementFactory()
    assert involvement.organisation.access_group_id is None
    sync(involvement)
    involvement.organisation.refresh_from_db()
    assert involvement.organisation.access_group is not None
    assert permissions.children_with_organisation_access(involvement.organisation).get() == involvement.child


def test_an_expired_grant_is_refused_even_before_any_job_revokes_it(verified):
    practitioner = factories.PractitionerFactory()
    child = factories.ChildFactory()
    now = timezone.now()
    services.grant_access(practitioner=practitioner, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                          reason="Child protection enquiry", expires_at=now + timedelta(hours=1), context=SYSTEM)
    assert permissions.may_open_child(practitioner, child, now=now)
    assert not permissions.may_open_child(practitioner, child, now=now + timedelta(hours=2))


def test_a_personal_grant_opens_the_record_to_that_practitioner_only(verified):
    practitioner = factories.PractitionerFactory()
    colleague = factories.PractitionerFactory(organisation=practitioner.organisation)
    child = factories.ChildFactory()
    services.grant_access(practitioner=practitioner, child=child, source=AccessGrant.Source.BREAK_GLASS,
                          reason="Emergency", expires_at=timezone.now() + timedelta(hours=1), context=SYSTEM)
    assert permissions.may_open_child(practitioner, child)
    assert not permissions.may_open_child(colleague, child)


def test_a_superuser_or_model_wide_permission_sees_no_child_without_access(verified):
    from django.contrib.auth.models import Permission

    practitioner = factories.PractitionerFactory()
    practitioner.user.is_superuser = True
    practitioner.user.save()
    practitioner.user.user_permissions.add(Permission.objects.get(codename="view_child"))
    factories.ChildFactory()
    assert not permissions.children_visible_to(practitioner).exists()


def test_membership_of_an_organisations_group_gives_nothing_by_itself(verified):
    """Access is read from the practitioner's own organisation, never from group membership,
    so a practitioner added to another organisation's group (by hand, in the admin) sees nothing more."""
    involvement = factories.InvolvementFactory()
    sync(involvement)
    involvement.organisation.refresh_from_db()
    elsewhere = factories.PractitionerFactory()
    elsewhere.user.groups.add(involvement.organisation.access_group)
    assert not permissions.may_open_child(elsewhere, involvement.child)


def test_without_a_verified_second_factor_nobody_sees_any_child():
    involvement = factories.InvolvementFactory()
    colleague = factories.PractitionerFactory(organisation=involvement.organisation)
    sync(involvement)
    assert not permissions.may_open_child(colleague, involvement.child)


def test_a_sync_larger_than_one_statement_takes_covers_every_child(verified, monkeypatch):
    monkeypatch.setattr(services, "_CHUNK", 2)
    organisation = factories.OrganisationFactory()
    involvements = [factories.InvolvementFactory(organisation=organisation) for _ in range(5)]
    assert len(sync(*involvements).granted) == 5
    Involvement.objects.filter(organisation=organisation).update(ended_on=date.today())
    assert len(sync(*involvements).ended) == 5


def test_opened_pairs_only_ever_grant_and_closed_pairs_only_ever_end(verified):
    involvement = factories.InvolvementFactory()
    pairs = involvement_access_pairs([involvement])
    assert len(services.sync_organisation_access(closed=pairs, context=SYSTEM)) == 0  # open: nothing to end
    assert services.sync_organisation_access(opened=pairs, context=SYSTEM).granted == pairs
    Involvement.objects.filter(pk=involvement.pk).update(ended_on=date.today())
    assert len(services.sync_organisation_access(opened=pairs, context=SYSTEM)) == 0  # ended: nothing to give
    assert services.sync_organisation_access(closed=pairs, context=SYSTEM).ended == pairs


def test_changes_to_one_organisations_access_are_serialised_until_commit(verified):
    """On PostgreSQL the sync holds the organisation's advisory lock to the end of the transaction."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every writer at BEGIN (IMMEDIATE transactions)")
    involvement = factories.InvolvementFactory()
    key = services.organisation_access_lock_key(involvement.organisation_id)
    held = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
            "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1")  # a bigint key, split in two
    with transaction.atomic():
        sync(involvement)
        with connection.cursor() as cursor:
            cursor.execute(held, [(key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF])
            assert cursor.fetchone()[0] == 1
