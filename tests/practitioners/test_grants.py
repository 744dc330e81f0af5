"""Grants: a practitioner opens a child's record only while a live grant and its guardian permission exist."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners import permissions, services
from practitioners.models import AccessGrant
from tests import factories

pytestmark = pytest.mark.django_db
SYSTEM = RequestContext.system("test")


@pytest.fixture
def verified(monkeypatch):
    """These tests are about grants, not the second factor: treat users as OTP-verified."""
    from django.contrib.auth.models import User

    monkeypatch.setattr(User, "is_verified", lambda self: True, raising=False)


def test_an_open_involvement_grants_every_active_practitioner_of_that_organisation(verified):
    involvement = factories.InvolvementFactory()
    colleague = factories.PractitionerFactory(organisation=involvement.organisation)
    outsider = factories.PractitionerFactory()
    assert services.sync_involvement_grants(involvement=involvement, context=SYSTEM) == 1
    assert permissions.may_open_child(colleague, involvement.child)
    assert not permissions.may_open_child(outsider, involvement.child)
    assert AccessEvent.objects.filter(action="grant.involvement", child_ref=involvement.child.reference).count() == 1


def test_ending_the_involvement_revokes_the_grant_and_running_twice_changes_nothing(verified):
    involvement = factories.InvolvementFactory()
    colleague = factories.PractitionerFactory(organisation=involvement.organisation)
    services.sync_involvement_grants(involvement=involvement, context=SYSTEM)
    assert services.sync_involvement_grants(involvement=involvement, context=SYSTEM) == 0
    involvement.ended_on = date.today()
    involvement.save()
    assert services.sync_involvement_grants(involvement=involvement, context=SYSTEM) == 1
    assert services.sync_involvement_grants(involvement=involvement, context=SYSTEM) == 0
    assert not permissions.may_open_child(colleague, involvement.child)


def test_an_expired_grant_is_refused_even_before_any_job_revokes_it(verified):
    practitioner = factories.PractitionerFactory()
    child = factories.ChildFactory()
    now = timezone.now()
    services.grant_access(practitioner=practitioner, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                          reason="Child protection enquiry", expires_at=now + timedelta(hours=1), context=SYSTEM)
    assert permissions.may_open_child(practitioner, child, now=now)
    assert not permissions.may_open_child(practitioner, child, now=now + timedelta(hours=2))


def test_a_superuser_or_model_wide_permission_sees_no_child_without_a_grant(verified):
    from django.contrib.auth.models import Permission

    practitioner = factories.PractitionerFactory()
    practitioner.user.is_superuser = True
    practitioner.user.save()
    practitioner.user.user_permissions.add(Permission.objects.get(codename="view_child"))
    factories.ChildFactory()
    assert not permissions.children_visible_to(practitioner).exists()


def test_without_a_verified_second_factor_nobody_sees_any_child():
    involvement = factories.InvolvementFactory()
    colleague = factories.PractitionerFactory(organisation=involvement.organisation)
    services.sync_involvement_grants(involvement=involvement, context=SYSTEM)
    assert not permissions.may_open_child(colleague, involvement.child)


# -- the batch form (feed ingest): exactly what the per-involvement path writes -----------------------------------

class _RolledBack(Exception):
    pass


def _snapshot(since_event: int, since_log: int) -> dict:
    """Grants, guardian permissions, change history and audit events, with grant ids as what they grant."""
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from practitioners.models import ChildUserObjectPermission

    grants = {g.pk: (g.practitioner_id, g.child_id, g.involvement_id) for g in AccessGrant.objects.all()}
    history = []
    for entry in LogEntry.objects.filter(pk__gt=since_log, content_type=ContentType.objects.get_for_model(AccessGrant)):
        changes = {k: v for k, v in entry.changes_dict.items() if k not in ("id", "granted_at")}  # ids, clock
        history.append((grants[int(entry.object_pk)], entry.action, sorted(changes.items())))
    events = [(e.action, e.child_ref, e.reason, grants[e.details["grant_id"]],
               {k: v for k, v in e.details.items() if k != "grant_id"})
              for e in AccessEvent.objects.filter(pk__gt=since_event).order_by("pk")]
    return {
        "grants": sorted((key, g.source, g.reason, g.expires_at, g.revoked_at is not None)
                         for g in AccessGrant.objects.all() for key in [grants[g.pk]]),
        "permissions": sorted(ChildUserObjectPermission.objects.values_list("user_id", "content_object_id")),
        "history": sorted(history, key=repr),
        "events": events,
    }


def _outcome(sync) -> dict:
    from auditlog.models import LogEntry
    from django.db import transaction

    since_event = AccessEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    since_log = LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    try:
        with transaction.atomic():
            sync()
            result = _snapshot(since_event, since_log)
            raise _RolledBack
    except _RolledBack:
        return result


def test_the_batch_form_writes_exactly_the_grants_permissions_history_and_events_of_the_single_path(verified):
    from children.models import Involvement

    organisation = factories.OrganisationFactory()
    staff = [factories.PractitionerFactory(organisation=organisation) for _ in range(3)]
    factories.PractitionerFactory(organisation=organisation, status="suspended")  # never granted
    shared_child = factories.ChildFactory()
    opened = [factories.InvolvementFactory(organisation=organisation) for _ in range(3)]
    opened.append(factories.InvolvementFactory(organisation=organisation, child=shared_child))
    ending = [factories.InvolvementFactory(organisation=organisation) for _ in range(2)]
    # the shared child keeps a grant through another, still open involvement: its permission must stay
    ending.append(factories.InvolvementFactory(organisation=organisation, child=shared_child))
    one_granted_already = factories.InvolvementFactory(organisation=organisation)
    for involvement in ending:
        services.sync_involvement_grants(involvement=involvement, context=SYSTEM)
    services.grant_access(practitioner=staff[0], child=one_granted_already.child, source="involvement",
                          reason=f"{organisation.name} is working with this child", context=SYSTEM,
                          expires_at=services.OPEN_ENDED, involvement=one_granted_already)
    Involvement.objects.filter(pk__in=[i.pk for i in ending]).update(ended_on=date.today())
    batch = list(Involvement.objects.filter(pk__in=[i.pk for i in opened + ending + [one_granted_already]])
                 .order_by("?"))

    def single():
        for involvement in batch:
            services.sync_involvement_grants(involvement=involvement, context=SYSTEM)

    one_by_one = _outcome(single)
    together = _outcome(lambda: services.sync_grants_for_involvements(involvements=batch, context=SYSTEM))
    assert together == one_by_one
    assert len(one_by_one["events"]) == 3 * 4 + 2 + 3 * 3  # 4 opened, 1 partly granted, 3 ended
    assert (shared_child.pk in {c for _, c in one_by_one["permissions"]})


def test_the_batch_form_changes_nothing_the_second_time(verified):
    organisation = factories.OrganisationFactory()
    factories.PractitionerFactory(organisation=organisation)
    batch = [factories.InvolvementFactory(organisation=organisation) for _ in range(2)]
    assert services.sync_grants_for_involvements(involvements=batch, context=SYSTEM) == 2
    assert services.sync_grants_for_involvements(involvements=batch, context=SYSTEM) == 0
    assert services.sync_grants_for_involvements(involvements=[], context=SYSTEM) == 0
