"""One small world per housekeeping task, shared by the eager and the real-worker tests.

``arrange()`` builds rows the task should act on (and one it must leave alone) and returns
them; ``check(arranged, counts)`` asserts what the task did, from the database.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable

from django.utils import timezone

from audit import services as audit
from audit.context import RequestContext
from audit.models import DailySearchTally
from audit import tasks as audit_tasks
from children import tasks as children_tasks
from children.models import Child
from housekeeping import tasks as housekeeping_tasks
from housekeeping.models import AccessReminder
from outbox.models import OutboundEmail
from practitioners import services as grants
from practitioners import tasks as practitioner_tasks
from practitioners.models import AccessGrant, Practitioner
from tests import factories
from tests.housekeeping.conftest import at_noon


@dataclass(frozen=True)
class Scenario:
    job: str
    task: Any
    arrange: Callable[[], dict]
    check: Callable[[dict, dict], None]


def _records():
    today = timezone.localdate()
    return {
        "stale": factories.ChildFactory(last_activity_at=at_noon(today - timedelta(days=800)), date_of_birth=date(2019, 5, 1)),
        "kept": factories.ChildFactory(last_activity_at=at_noon(today - timedelta(days=10)), date_of_birth=date(2019, 5, 1)),
    }


def _records_checked(arranged, counts):
    assert counts["children"] == 1
    assert not Child.objects.filter(pk=arranged["stale"].pk).exists()
    assert Child.objects.filter(pk=arranged["kept"].pk).exists()


def _grants():
    now = timezone.now()
    made = {}
    for name, expires_at in (("ended", now - timedelta(minutes=5)), ("open", now + timedelta(hours=5))):
        made[name] = grants.grant_access(
            practitioner=factories.PractitionerFactory(), child=factories.ChildFactory(),
            source=AccessGrant.Source.BREAK_GLASS, reason="Emergency", expires_at=expires_at,
            context=RequestContext.system("test"),
        )
    return made


def _grants_checked(arranged, counts):
    assert counts["revoked_break_glass"] == 1
    assert AccessGrant.objects.get(pk=arranged["ended"].pk).revoked_at is not None
    assert AccessGrant.objects.get(pk=arranged["open"].pk).revoked_at is None


def _practitioners():
    today = timezone.localdate()
    return {"lapsed": factories.PractitionerFactory(vetting_expires_on=today - timedelta(days=1)),
            "current": factories.PractitionerFactory()}  # vetted and trained well beyond any reminder


def _practitioners_checked(arranged, counts):
    assert counts["expired"] == 1
    assert Practitioner.objects.get(pk=arranged["lapsed"].pk).status == Practitioner.Status.EXPIRED
    assert Practitioner.objects.get(pk=arranged["current"].pk).status == Practitioner.Status.ACTIVE


def _reminders():
    today = timezone.localdate()
    return {"due": factories.PractitionerFactory(vetting_expires_on=today + timedelta(days=12)),
            "later": factories.PractitionerFactory(vetting_expires_on=today + timedelta(days=60))}


def _reminders_checked(arranged, counts):
    assert counts["reminded"] == 1
    assert list(AccessReminder.objects.values_list("practitioner", flat=True)) == [arranged["due"].pk]


def _chain():
    child = factories.ChildFactory()
    return {"events": [audit.record_event(action="child.view", context=RequestContext.system("test"), child=child)
                       for _ in range(3)]}


def _chain_checked(arranged, counts):
    assert counts == {"broken": 0}


def _tally():
    return {}


def _tally_checked(arranged, counts):
    # Every completed day of the look-back window is tallied once; a rerun finds none left.
    assert counts == {"days_tallied": 35}
    assert DailySearchTally.objects.count() == 35


def _emails():
    due = OutboundEmail.objects.create(
        kind="access_reminder", status=OutboundEmail.Status.RETRYING, attempts=1, to=["someone@example.org"],
        recipient_count=1, subject="Reminder", body="Hello", from_email="signpost@localhost",
        next_attempt_at=timezone.now() - timedelta(minutes=1))
    not_due = OutboundEmail.objects.create(
        kind="access_reminder", status=OutboundEmail.Status.RETRYING, attempts=1, to=["other@example.org"],
        recipient_count=1, subject="Reminder", body="Hello", from_email="signpost@localhost",
        next_attempt_at=timezone.now() + timedelta(hours=1))
    return {"due": due, "not_due": not_due}


def _emails_checked(arranged, counts):
    assert counts == {"sent": 1, "not_sent": 0, "forgotten": 0, "failed_total": 0}
    due, not_due = (OutboundEmail.objects.get(pk=arranged[k].pk) for k in ("due", "not_due"))
    assert (due.status, due.attempts, due.body, due.to) == ("sent", 2, "", [])  # sent, then forgotten
    assert (not_due.status, not_due.attempts) == ("retrying", 1)


SCENARIOS = {s.job: s for s in [
    Scenario("expire_records", children_tasks.expire_stale_records, _records, _records_checked),
    Scenario("expire_grants", practitioner_tasks.revoke_expired_grants, _grants, _grants_checked),
    Scenario("expire_practitioners", practitioner_tasks.expire_lapsed_practitioners, _practitioners, _practitioners_checked),
    Scenario("remind_practitioners", practitioner_tasks.send_access_reminders, _reminders, _reminders_checked),
    Scenario("verify_audit_chain", audit_tasks.verify_audit_chain, _chain, _chain_checked),
    Scenario("score_anomalies", audit_tasks.tally_search_volume, _tally, _tally_checked),
    Scenario("send_waiting_emails", housekeeping_tasks.send_waiting_emails, _emails, _emails_checked),
]}
