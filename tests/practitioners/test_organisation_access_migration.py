"""Migration 0012: the per-practitioner involvement grants become organisations' access."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from auditlog.context import disable_auditlog
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from guardian.shortcuts import assign_perm

from practitioners.models import AccessGrant, ChildGroupObjectPermission, ChildUserObjectPermission
from tests import factories

BEFORE = ("practitioners", "0011_organisation_access")
AFTER = ("practitioners", "0012_involvement_grants_to_organisation_access")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def historical(model_name):
    """A practitioners model as it was at BEFORE: later migrations add columns today's models write."""
    executor = MigrationExecutor(connection)
    return executor.loader.project_state(BEFORE).apps.get_model("practitioners", model_name)


def old_practitioner(organisation):
    user = factories.UserFactory()
    practitioner = historical("Practitioner").objects.create(user_id=user.pk, organisation_id=organisation.pk,
                                                             job_title="Social worker", status="active")
    return SimpleNamespace(pk=practitioner.pk, user=user, user_id=user.pk)


def old_grant(practitioner, child, involvement=None, source="involvement", expires_at=None):
    """A grant as the code before 0012 wrote it: the row and the practitioner's guardian permission."""
    assign_perm("children.view_child", practitioner.user, child)
    return historical("AccessGrant").objects.create(
        practitioner_id=practitioner.pk, child_id=child.pk, source=source, reason="r",
        involvement_id=getattr(involvement, "pk", None),
        expires_at=expires_at or timezone.now() + timedelta(days=3650))


@pytest.mark.django_db(transaction=True)
def test_involvement_grants_become_the_organisations_access_and_personal_grants_stay():
    migrate(BEFORE)  # 0012 is data only; later migrations' columns are written through historical models
    try:
        with disable_auditlog():  # its change history reads relations (a claim) added after 0012
            _check_migration()
    finally:
        migrate_to_latest()


def _check_migration():
    organisation = factories.OrganisationFactory()
    staff = [old_practitioner(organisation) for _ in range(2)]
    open_involvement = factories.InvolvementFactory(organisation=organisation)
    ended = factories.InvolvementFactory(organisation=organisation, ended_on=date(2025, 1, 1))
    for practitioner in staff:
        old_grant(practitioner, open_involvement.child, open_involvement)
    # staff[0] also holds a break-glass grant on the open involvement's child: its permission must stay
    old_grant(staff[0], open_involvement.child, source="break_glass",
              expires_at=timezone.now() + timedelta(hours=5))
    never_involved = factories.OrganisationFactory()

    migrate(AFTER)

    organisation.refresh_from_db()
    never_involved.refresh_from_db()
    assert organisation.access_group_id and never_involved.access_group_id
    assert list(ChildGroupObjectPermission.objects.values_list("group", "content_object")) == [
        (organisation.access_group_id, open_involvement.child_id)]
    assert not ChildGroupObjectPermission.objects.filter(content_object=ended.child).exists()
    assert not AccessGrant.objects.live().filter(source="involvement").exists()
    assert AccessGrant.objects.filter(source="involvement").count() == 2  # kept, revoked
    assert list(AccessGrant.objects.live().values_list("source", flat=True)) == ["break_glass"]
    assert list(ChildUserObjectPermission.objects.values_list("user", "content_object")) == [
        (staff[0].user_id, open_involvement.child_id)]
