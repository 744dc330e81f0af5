"""The CSV export: every matching event, streamed a batch at a time, safe to open in a spreadsheet."""

import csv
import io
import re
import tracemalloc

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AccessEvent
from audit.views import safe_cell

pytestmark = pytest.mark.django_db


def rows_of(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_is_every_event_matching_the_filter(auditor_client, record):
    views = [record("child.view", reason=f"visit {n}") for n in range(3)]
    record("child.search")
    response = auditor_client.get(reverse("audit:export"), {"action": "child.view"})
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = rows_of(response)
    assert [int(r["event_id"]) for r in rows] == [e.pk for e in reversed(views)]
    assert rows[0]["hash"] == views[-1].hash and rows[0]["reason"] == "visit 2"


def test_the_export_is_itself_audited_with_its_filter_before_any_row_is_sent(auditor_client, auditor):
    response = auditor_client.get(reverse("audit:export"), {"outcome": "denied"})
    export = AccessEvent.objects.get(action="audit.events.export")
    assert export.actor_id == auditor.pk and export.details == {"filter": {"outcome": "denied"}}
    assert rows_of(response) == []


def test_an_invalid_filter_goes_back_to_the_form_instead_of_exporting(auditor_client):
    response = auditor_client.get(reverse("audit:export"), {"child_ref": "not a ref"})
    assert response.status_code == 302 and response.url.startswith(reverse("audit:events"))
    assert not AccessEvent.objects.filter(action="audit.events.export").exists()


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_cells_that_a_spreadsheet_would_run_as_a_formula_are_escaped(auditor_client, record, text):
    record("child.view", reason=text, details={"note": text})
    row = next(r for r in rows_of(auditor_client.get(reverse("audit:export"))) if r["action"] == "child.view")
    assert row["reason"] == "'" + text
    assert safe_cell(text) == "'" + text


def test_numbers_and_plain_text_are_left_alone():
    assert [safe_cell(v) for v in [-5, 12, "Smith-Jones", "a=b", None, True]] == ["-5", "12", "Smith-Jones", "a=b",
                                                                                   "", "yes"]


def insert_events(count: int):
    """``count`` plain events straight into the table (the chain is beside the point here)."""
    columns = ("occurred_at, chain, seq, actor_id, actor_username, actor_role, action, child_ref, shielded, reason, "
               "request_id, user_agent, outcome, details, prev_hash, hash")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO audit_accessevent ({columns}) SELECT now() - make_interval(secs => i), 1, i, 7, "
                "'practitioner7', 'Practitioner', 'child.view', 'C-AAAAA-BBBBB', false, 'Routine visit ' || i, "
                "md5(i::text), 'Mozilla/5.0', 'allowed', '{\"n\": 1}', repeat('0', 64), md5(i::text) || md5(i::text) "
                "FROM generate_series(1, %s) AS i", [count])
        else:
            cursor.execute(
                f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
                f"INSERT INTO audit_accessevent ({columns}) SELECT strftime('%%Y-%%m-%%d %%H:%%M:%%S', 'now', "
                "'-' || i || ' seconds') || '.000000', 1, i, 7, 'practitioner7', 'Practitioner', 'child.view', 'C-AAAAA-BBBBB', "
                "0, 'Routine visit ' || i, hex(randomblob(16)), 'Mozilla/5.0', 'allowed', '{\"n\": 1}', "
                "substr(hex(zeroblob(32)), 1, 64), hex(randomblob(32)) FROM n", [count])


def test_exporting_100k_events_streams_with_flat_memory(auditor_client):
    insert_events(100_000)
    response = auditor_client.get(reverse("audit:export"))
    assert isinstance(response, StreamingHttpResponse)
    size = rows = 0
    with CaptureQueriesContext(connection) as queries:
        tracemalloc.start()
        try:
            for chunk in response.streaming_content:
                size += len(chunk)
                rows += chunk.count(b"\r\n")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert rows == 1 + AccessEvent.objects.count() >= 1 + 100_000  # the header, then every event
    assert size > 30_000_000
    # Memory holds one batch, not the file: a small fraction of what was sent.
    assert peak < 12_000_000, f"peak {peak:,} bytes for a {size:,}-byte export"
    selects = [q["sql"] for q in queries.captured_queries if "audit_accessevent" in q["sql"]]
    assert len(selects) >= 50 and all(re.search(r"LIMIT 2000\b", sql) for sql in selects)
    assert not any(re.search(r"\bOFFSET\b", sql) for sql in selects)
