"""The anomaly view: what it flags, and reviews that leave the events untouched."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit import selectors
from audit.models import AccessEvent, AnomalyReview
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(record):
    home, away = factories.LocalAuthorityFactory(), factories.LocalAuthorityFactory()
    practitioner = factories.PractitionerFactory(user__username="pat", organisation__local_authority=home)
    local_child = factories.ChildFactory(local_authority=home)
    shielded_child = factories.ChildFactory(local_authority=home, shielded=True)
    moved_child = factories.ChildFactory(local_authority=away)
    user = practitioner.user
    return {
        "user": user,
        "plain": record("child.view", user=user, child=local_child),
        "break_glass": record("grant.break_glass", user=user, child=local_child, reason="Police at the door"),
        "shielded": record("child.view", user=user, child=shielded_child),
        "denied": record("child.view", user=user, child=local_child, outcome="denied"),
        "out_of_area": record("child.view", user=user, child=moved_child),
    }


def listed(auditor_client, kind, **query):
    response = auditor_client.get(reverse("audit:anomalies"), {"kind": kind, **query})
    assert response.status_code == 200
    return response, {e.pk for e in response.context["page"].events}


@pytest.mark.parametrize("kind", ["break_glass", "shielded", "denied", "out_of_area"])
def test_each_kind_of_anomaly_lists_exactly_its_events(auditor_client, world, kind):
    _, ids = listed(auditor_client, kind)
    assert world[kind].pk in ids
    assert world["plain"].pk not in ids
    others = {world[k].pk for k in ["break_glass", "shielded", "denied", "out_of_area"] if k != kind}
    if kind != "denied":  # the denied event is about a local child, so it is only a denial
        assert not ids & others - {world["denied"].pk}


def test_viewing_anomalies_is_audited(auditor_client, world, auditor):
    auditor_client.get(reverse("audit:anomalies"), {"kind": "shielded"})
    event = AccessEvent.objects.get(action="audit.anomalies.view")
    assert event.actor_id == auditor.pk and event.details["kind"] == "shielded"


def test_the_period_defaults_to_the_last_30_days_and_can_be_chosen(auditor_client, world):
    response, ids = listed(auditor_client, "denied")
    today = timezone.localdate()
    assert (response.context["since"], response.context["until"]) == (today - timedelta(days=30), today)
    _, ids = listed(auditor_client, "denied", date_to=today - timedelta(days=2))
    assert ids == set()


def test_a_practitioner_searching_more_than_the_threshold_in_a_day_is_flagged(auditor_client, record, settings):
    settings.AUDIT_SEARCHES_PER_DAY_THRESHOLD = 5
    busy = factories.PractitionerFactory(user__username="busy").user
    calm = factories.PractitionerFactory(user__username="calm").user
    for _ in range(6):
        record("child.search", user=busy)
    for _ in range(5):
        record("child.search", user=calm)
        record("child.view", user=calm)
    response = auditor_client.get(reverse("audit:anomalies"), {"kind": "search_volume"})
    volumes = response.context["volumes"]
    assert [(v.actor_username, v.searches, v.day) for v in volumes] == [("busy", 6, timezone.localdate())]
    assert "more than 5 searches in one day" in response.content.decode()


def test_marking_an_event_anomaly_reviewed_keeps_the_comment_in_its_own_table(auditor_client, world, auditor):
    event = world["break_glass"]
    url = reverse("audit:review_anomaly", kwargs={"key": f"event:{event.pk}"})
    page = auditor_client.get(url)
    assert page.status_code == 200 and "Police at the door" in page.content.decode()
    assert AccessEvent.objects.filter(action="audit.anomaly.open", child_ref=event.child_ref).exists()

    response = auditor_client.post(url, {"comment": "Checked with the duty manager: genuine emergency."})
    assert response.status_code == 302 and response.url == reverse("audit:anomalies") + "?kind=break_glass"
    review = AnomalyReview.objects.get()
    assert (review.anomaly_key, review.kind, review.event_id, review.reviewed_by_username) == (
        f"event:{event.pk}", "break_glass", event.pk, "auditor1")
    stored = AccessEvent.objects.get(pk=event.pk)
    assert (stored.hash, stored.reason, stored.details) == (event.hash, event.reason, event.details)
    audit = AccessEvent.objects.get(action="audit.anomaly.review")
    assert audit.details["anomaly"] == f"event:{event.pk}" and audit.reason.startswith("Checked")
    # Reviewed anomalies drop out of the default list, and come back on request.
    assert event.pk not in listed(auditor_client, "break_glass")[1]
    assert event.pk in listed(auditor_client, "break_glass", include_reviewed="on")[1]


def test_a_search_volume_anomaly_can_be_reviewed(auditor_client, record, settings):
    settings.AUDIT_SEARCHES_PER_DAY_THRESHOLD = 1
    user = factories.PractitionerFactory(user__username="busy").user
    record("child.search", user=user)
    record("child.search", user=user)
    key = selectors.search_volume_key(user.pk, timezone.localdate())
    response = auditor_client.post(reverse("audit:review_anomaly", kwargs={"key": key}), {"comment": "Audit week"})
    assert response.status_code == 302
    assert AnomalyReview.objects.get().kind == "search_volume"
    assert auditor_client.get(reverse("audit:anomalies"), {"kind": "search_volume"}).context["volumes"] == []


def test_a_review_needs_a_comment(auditor_client, world):
    url = reverse("audit:review_anomaly", kwargs={"key": f"event:{world['denied'].pk}"})
    response = auditor_client.post(url, {"comment": "  "})
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page and 'href="#id_comment"' in page and "Enter what you found" in page
    assert not AnomalyReview.objects.exists()


def test_an_anomaly_is_reviewed_once(auditor_client, world):
    url = reverse("audit:review_anomaly", kwargs={"key": f"event:{world['denied'].pk}"})
    auditor_client.post(url, {"comment": "First look"})
    auditor_client.post(url, {"comment": "Second look"})
    assert list(AnomalyReview.objects.values_list("comment", flat=True)) == ["First look"]
    assert "Reviewed by auditor1" in auditor_client.get(url).content.decode()


@pytest.mark.parametrize("key", ["event:abc", "event:999999", "search-volume:1:2026-13-01", "nonsense"])
def test_something_that_is_not_an_anomaly_cannot_be_reviewed(auditor_client, world, key):
    assert auditor_client.get(reverse("audit:review_anomaly", kwargs={"key": key})).status_code == 404


def test_an_ordinary_event_is_not_an_anomaly_to_review(auditor_client, world):
    url = reverse("audit:review_anomaly", kwargs={"key": f"event:{world['plain'].pk}"})
    assert auditor_client.post(url, {"comment": "x"}).status_code == 404
    assert not AnomalyReview.objects.exists()


def backdate(events, days):
    """Events as if written ``days`` ago: the tests' stand-in for the passing of time, which
    needs the append-only triggers off for a moment."""
    from django.db import connection

    from audit import guards

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER audit_accessevent_refuse_update")
        for event in events:
            cursor.execute("UPDATE audit_accessevent SET occurred_at = %s WHERE id = %s",
                           [event.occurred_at - timedelta(days=days), event.pk])
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            guards.install(connection)


def test_completed_days_are_counted_once_and_read_from_the_tally(auditor_client, record, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit import services
    from audit.models import DailySearchCount

    settings.AUDIT_SEARCHES_PER_DAY_THRESHOLD = 2
    busy = factories.PractitionerFactory(user__username="busy").user
    backdate([record("child.search", user=busy) for _ in range(3)], days=2)
    live = selectors.heavy_searchers(since=timezone.localdate() - timedelta(days=7), until=timezone.localdate(),
                                     threshold=2, include_reviewed=True)
    assert services.tally_recent_searches(today=timezone.localdate()) == 35
    assert services.tally_recent_searches(today=timezone.localdate()) == 0  # nothing left to do
    assert DailySearchCount.objects.get().searches == 3
    with CaptureQueriesContext(connection) as queries:
        tallied = auditor_client.get(reverse("audit:anomalies"), {
            "kind": "search_volume", "date_to": timezone.localdate() - timedelta(days=1)}).context["volumes"]
    assert [(v.actor_id, v.day, v.searches) for v in tallied] == [(v.actor_id, v.day, v.searches) for v in live]
    assert tallied[0].day == timezone.localdate() - timedelta(days=2)
    assert not any("COUNT(" in q["sql"].upper() and "audit_accessevent" in q["sql"] for q in queries.captured_queries)
