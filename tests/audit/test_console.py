"""The auditors' console: filters, keyset pages, the who-accessed report, what auditors never see."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import selectors
from audit.models import AccessEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast():
    la_a, la_b = factories.LocalAuthorityFactory(), factories.LocalAuthorityFactory()
    alice = factories.PractitionerFactory(user__username="alice", organisation__name="Riverside School",
                                          organisation__local_authority=la_a)
    bob = factories.PractitionerFactory(user__username="bob", organisation__name="Hilltop Practice",
                                        organisation__local_authority=la_b)
    child = factories.ChildFactory(given_names="Philippa", family_name="Quartermaine", local_authority=la_a,
                                   nhs_number="9434765919", postcode="W6 9LA", address_line="7 Secret Row")
    return {"alice": alice, "bob": bob, "child": child}


def listed_ids(response) -> list[int]:
    return [e.pk for e in response.context["page"].events]


def test_the_log_lists_events_newest_first_with_who_what_and_the_child_reference(auditor_client, cast, record):
    older = record("child.search", user=cast["alice"].user, details={"result_count": 2})
    newer = record("child.view", user=cast["bob"].user, child=cast["child"])
    response = auditor_client.get(reverse("audit:events"))
    assert response.status_code == 200
    ids = listed_ids(response)
    assert ids.index(newer.pk) < ids.index(older.pk)
    page = response.content.decode()
    for text in ["alice", "bob", "Hilltop Practice", "Opened a child&#x27;s record", cast["child"].reference]:
        assert text in page


@pytest.mark.parametrize("field, value, who", [
    ("actor", "ALICE", "alice"),
    ("organisation", "hilltop", "bob"),
    ("action", "child.search", "alice"),
    ("outcome", "denied", "bob"),
])
def test_each_filter_narrows_the_log(auditor_client, cast, record, field, value, who):
    record("child.search", user=cast["alice"].user)
    record("child.view", user=cast["bob"].user, child=cast["child"], outcome="denied")
    events = AccessEvent.objects.in_bulk(listed_ids(auditor_client.get(reverse("audit:events"), {field: value})))
    assert {e.actor_username for e in events.values()} == {who}


def test_the_child_reference_filter_finds_only_that_childs_events(auditor_client, cast, record):
    other = factories.ChildFactory()
    mine = record("child.view", user=cast["alice"].user, child=cast["child"])
    record("child.view", user=cast["alice"].user, child=other)
    response = auditor_client.get(reverse("audit:events"), {"child_ref": cast["child"].reference.lower()})
    assert listed_ids(response) == [mine.pk]


def test_the_date_range_includes_both_end_days(auditor_client, cast, record):
    event = record("child.view", user=cast["alice"].user)
    today = timezone.localdate()
    assert event.pk in listed_ids(auditor_client.get(reverse("audit:events"), {"date_from": today, "date_to": today}))
    yesterday = today - timedelta(days=1)
    assert event.pk not in listed_ids(auditor_client.get(reverse("audit:events"), {"date_to": yesterday}))


def test_bad_filters_are_explained_next_to_the_field_not_a_500(auditor_client):
    response = auditor_client.get(reverse("audit:events"), {"child_ref": "Quartermaine", "date_from": "2026-05-02",
                                                             "date_to": "2026-05-01"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page
    assert 'href="#id_child_ref"' in page and "Enter a child reference in the form C-XXXXX-XXXXX" in page
    assert "The end date must be the same as or after the start date." in page


def test_every_page_of_the_log_is_itself_audited_with_its_filter(auditor_client, auditor):
    auditor_client.get(reverse("audit:events"), {"action": "child.view"})
    event = AccessEvent.objects.get(action="audit.events.view")
    assert event.actor_id == auditor.pk and event.details == {"filter": {"action": "child.view"}}


def test_pages_step_by_keyset_not_offset_and_cover_every_event_once(auditor_client, settings, record, cast):
    settings.AUDIT_PAGE_SIZE = 7
    written = {record("child.view", user=cast["alice"].user).pk for _ in range(30)}
    seen, url, pages = [], reverse("audit:events") + "?actor=alice", 0
    with CaptureQueriesContext(connection) as queries:
        while url:
            response = auditor_client.get(url)
            seen += listed_ids(response)
            older = response.context["page"].older
            url = f"{reverse('audit:events')}?actor=alice&before={older}" if older else None
            pages += 1
    assert pages == 5 and len(seen) == 30 and set(seen) == written
    assert not any(re.search(r"\bOFFSET\b", q["sql"]) for q in queries.captured_queries)
    # and back again: "newer" from the last page returns the page before it
    back = auditor_client.get(f"{reverse('audit:events')}?actor=alice&after={response.context['page'].newer}")
    assert listed_ids(back) == seen[-9:-2]


def test_a_tampered_cursor_is_the_first_page_not_an_error(auditor_client, record):
    event = record("child.view")
    response = auditor_client.get(reverse("audit:events"), {"before": "not-a-cursor!"})
    assert response.status_code == 200 and event.pk in listed_ids(response)


def test_keyset_order_is_stable_for_events_in_the_same_microsecond(record):
    events = [record("child.view") for _ in range(4)]
    same = events[0].occurred_at
    ordered = AccessEvent.objects.filter(pk__in=[e.pk for e in events])
    # Step through with page size 1 from a shared timestamp: ties are broken by id.
    position, seen = (same + timedelta(seconds=1), 10**12), []
    for _ in events:
        row = ordered.before(*position).newest_first().first()
        seen.append(row.pk)
        position = (row.occurred_at, row.pk)
    assert seen == sorted(seen, reverse=True) == sorted((e.pk for e in events), reverse=True)


# Who accessed this record ---------------------------------------------------------

def test_the_who_accessed_report_lists_views_grants_refusals_and_searches_that_showed_the_child(
        auditor_client, cast, record):
    child = cast["child"]
    view = record("child.view", user=cast["alice"].user, child=child)
    refused = record("child.view", user=cast["bob"].user, child=child, outcome="denied")
    search = record("child.search", user=cast["bob"].user, disclosed_refs=[child.reference, "C-ZZZZZ-ZZZZZ"])
    unrelated = record("child.search", user=cast["bob"].user, disclosed_refs=["C-ZZZZZ-ZZZZZ"])
    response = auditor_client.get(reverse("audit:child_report"), {"ref": child.reference})
    assert set(listed_ids(response)) == {view.pk, refused.pk, search.pk}
    assert unrelated.pk not in listed_ids(response)
    page = response.content.decode()
    assert "In search results" in page and "About this child" in page
    report = AccessEvent.objects.get(action="audit.child_report")
    assert report.child_ref == child.reference and report.actor_username == "auditor1"
    # An auditor producing the report is not an access to the record.
    assert report.pk not in listed_ids(auditor_client.get(reverse("audit:child_report"), {"ref": child.reference}))


def test_the_report_downloads_as_csv_and_the_download_is_audited(auditor_client, cast, record):
    record("child.view", user=cast["alice"].user, child=cast["child"], reason="Strategy meeting")
    response = auditor_client.get(reverse("audit:child_report_csv"), {"ref": cast["child"].reference})
    body = b"".join(response.streaming_content).decode()
    header, row = body.splitlines()[:2]
    assert header.startswith("child_ref,occurred_at_utc,who,role,organisation,what,how,outcome,reason")
    assert "alice" in row and "Riverside School" in row and "Strategy meeting" in row
    assert AccessEvent.objects.filter(action="audit.child_report.export", child_ref=cast["child"].reference).exists()


def test_the_report_asks_for_a_well_formed_reference(auditor_client):
    response = auditor_client.get(reverse("audit:child_report"), {"ref": "Philippa"})
    assert "Enter a child reference in the form C-XXXXX-XXXXX" in response.content.decode()
    assert "page" not in response.context


# What auditors never see ------------------------------------------------------------

def test_auditors_never_see_child_details_beyond_the_reference(auditor_client, cast, record):
    child = cast["child"]
    record("child.view", user=cast["alice"].user, child=child)
    record("grant.break_glass", user=cast["bob"].user, child=child, reason="Called by A&E")
    record("child.search", user=cast["bob"].user, disclosed_refs=[child.reference])
    pages = [
        auditor_client.get(reverse("audit:events")).content,
        auditor_client.get(reverse("audit:child_report"), {"ref": child.reference}).content,
        b"".join(auditor_client.get(reverse("audit:export")).streaming_content),
        b"".join(auditor_client.get(reverse("audit:child_report_csv"), {"ref": child.reference}).streaming_content),
    ] + [auditor_client.get(reverse("audit:anomalies"), {"kind": kind}).content for kind in selectors.ANOMALY_KINDS]
    for content in pages[:5]:  # the pages that list events about the child show its reference
        assert child.reference in content.decode()
    for content in pages:
        text = content.decode()
        for detail in ["Philippa", "Quartermaine", "9434765919", "W6 9LA", "7 Secret Row",
                       child.date_of_birth.isoformat(), child.date_of_birth.strftime("%-d %b %Y")]:
            assert detail not in text, detail
