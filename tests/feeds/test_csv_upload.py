"""CSV upload: a documented template, per-line errors before anything is added, a task that adds the
rows with its progress reported, and only the uploader's own organisation."""

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from audit.models import AccessEvent
from children.models import Child, Involvement
from feeds import csv_format, services
from feeds.models import CsvUpload, FeedBatch
from tests import factories
from tests.feeds.conftest import row

pytestmark = pytest.mark.django_db


def csv_bytes(rows, header=csv_format.COLUMN_NAMES) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    return out.getvalue().encode()


@pytest.fixture
def practitioner(organisation):
    return factories.PractitionerFactory(organisation=organisation, data_manager=True)  # the duty an LA admin gives


@pytest.fixture(autouse=True)
def _tasks_after_commit(monkeypatch, django_capture_on_commit_callbacks):
    """Tasks are queued on commit; the test transaction never commits, so run them when each request
    ends, as a committed request would."""
    from django.test import Client

    original = Client.request

    def request(self, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return original(self, **kwargs)

    monkeypatch.setattr(Client, "request", request)


@pytest.fixture
def uploader(client, login_verified, practitioner):
    return login_verified(client, practitioner.user)


def upload(client, organisation, content: bytes, name="involvements.csv"):
    return client.post(reverse("feeds:upload"), {"organisation": organisation.pk,
                                                 "file": SimpleUploadedFile(name, content, "text/csv")})


def test_the_template_names_every_column_and_the_page_documents_them(uploader):
    response = uploader.get(reverse("feeds:upload_template"))
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert tuple(lines[0]) == csv_format.COLUMN_NAMES and len(lines) == 2
    page = uploader.get(reverse("feeds:upload")).content.decode()
    for column in csv_format.COLUMNS:
        assert column.name in page
    assert "school-nursing" in page


def test_an_uploaded_file_is_checked_and_each_bad_line_explained_before_anything_is_added(uploader, organisation):
    rows = [row(1), row(2, nhs_number="9434765918"), row(3, started_on="2024-09-02", ended_on="2024-01-01"),
            row(4, service="unknown-service"), row(5, date_of_birth=""), row(6, given_names="Am\x00y"), row(7)]
    response = upload(uploader, organisation, csv_bytes(rows))
    item = CsvUpload.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("feeds:upload_detail", args=[item.pk])
    assert (item.status, item.total_rows, item.valid_rows, item.error_count) == ("validated", 7, 2, 5)
    assert not Involvement.objects.exists() and not Child.objects.exists()
    page = uploader.get(response["Location"]).content.decode()
    by_line = {(e["line"], e["column"]) for e in item.errors}
    assert {(3, "nhs_number"), (4, "ended_on"), (5, "service"), (6, "date_of_birth"), (7, "given_names")} <= by_line
    assert "Add 2 involvements" in page and "NHS number" in page and "Unknown service code" in page


def test_committing_adds_the_good_rows_through_the_feed_and_reports_the_outcome(uploader, organisation, practitioner):
    upload(uploader, organisation, csv_bytes([row(1), row(2), row(3, nhs_number="123")]))
    item = CsvUpload.objects.get()
    response = uploader.post(reverse("feeds:upload_detail", args=[item.pk]), {"action": "commit"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "done" and item.result["created"] == 2 and item.result["error"] == 1
    assert bytes(item.content) == b""  # personal data is not kept once added
    assert sorted(Involvement.objects.values_list("external_id", flat=True)) == ["EXT-1", "EXT-2"]
    batch = FeedBatch.objects.get()
    assert (batch.source, batch.upload, batch.organisation) == ("csv", item, organisation)
    event = AccessEvent.objects.get(action="feed.bulk")
    assert event.actor_id == practitioner.user.pk and event.details["upload_id"] == item.pk
    assert AccessEvent.objects.filter(action="feed.csv.commit").count() == 1
    page = uploader.get(reverse("feeds:upload_detail", args=[item.pk])).content.decode()
    assert "Finished" in page and "Added" in page


def test_committing_twice_adds_nothing_twice(uploader, organisation):
    upload(uploader, organisation, csv_bytes([row(1)]))
    item = CsvUpload.objects.get()
    for _ in range(2):
        uploader.post(reverse("feeds:upload_detail", args=[item.pk]), {"action": "commit"})
    assert Involvement.objects.count() == 1 and FeedBatch.objects.count() == 1


def test_discarding_adds_nothing_and_forgets_the_file(uploader, organisation):
    upload(uploader, organisation, csv_bytes([row(1)]))
    item = CsvUpload.objects.get()
    uploader.post(reverse("feeds:upload_detail", args=[item.pk]), {"action": "discard"})
    item.refresh_from_db()
    assert item.status == "discarded" and bytes(item.content) == b""
    uploader.post(reverse("feeds:upload_detail", args=[item.pk]), {"action": "commit"})
    assert not Involvement.objects.exists()


@pytest.mark.parametrize("content, message", [
    ("given_names;family_name\nA;B\n".encode(), "missing column(s): external_id"),
    (csv_bytes([row(1)]).decode().encode("utf-16"), "not UTF-8"),
    (b"", "The file is empty"),
    (",".join(csv_format.COLUMN_NAMES).encode() + b"\n", "no rows"),
    (",".join((*csv_format.COLUMN_NAMES, "=cmd|' /C calc'!A0")).encode() + b"\n", "unknown column(s): '=cmd"),
])
def test_a_file_that_cannot_be_read_is_rejected_with_the_reason(uploader, organisation, content, message):
    upload(uploader, organisation, content or b"\n")
    item = CsvUpload.objects.get()
    assert item.status == "rejected" and message in item.file_error
    assert message.split(":")[0] in uploader.get(reverse("feeds:upload_detail", args=[item.pk])).content.decode()


def test_a_line_with_more_cells_than_columns_is_an_error_for_that_line(uploader, organisation):
    content = csv_bytes([row(1)]) + b"EXT-2,Amy,Smith,2015-01-01,F,,,,,school-nursing,2024-01-01,,,,surplus\n"
    upload(uploader, organisation, content)
    item = CsvUpload.objects.get()
    assert item.error_count == 1 and "more cells" in item.errors[0]["message"]


def test_a_practitioner_uploads_only_for_their_own_organisation(uploader, school_nursing):
    elsewhere = factories.OrganisationFactory()
    response = upload(uploader, elsewhere, csv_bytes([row(1)]))
    assert response.status_code == 400 and b"Select a valid choice" in response.content
    assert not CsvUpload.objects.exists()


def test_another_practitioner_cannot_see_someone_elses_upload_but_the_la_admin_can(
        client, login_verified, uploader, organisation, la_admin):
    upload(uploader, organisation, csv_bytes([row(1)]))
    item = CsvUpload.objects.get()
    colleague = factories.PractitionerFactory(organisation=organisation)
    login_verified(client, colleague.user)
    assert client.get(reverse("feeds:upload_detail", args=[item.pk])).status_code == 403
    login_verified(client, la_admin)
    assert client.get(reverse("feeds:upload_detail", args=[item.pk])).status_code == 200


def test_the_status_endpoint_reports_progress_as_json(uploader, organisation):
    upload(uploader, organisation, csv_bytes([row(1), row(2)]))
    item = CsvUpload.objects.get()
    status = uploader.get(reverse("feeds:upload_status", args=[item.pk])).json()
    assert status == {"status": "validated", "label": "Checked: ready to add", "processed": 2, "total": 2,
                      "percent": 100, "in_progress": False}


def test_the_progress_page_works_without_javascript_and_loads_only_a_module_script(uploader, organisation):
    upload(uploader, organisation, csv_bytes([row(1)]))
    item = CsvUpload.objects.get()
    CsvUpload.objects.filter(pk=item.pk).update(status="committing", processed_rows=0)
    body = uploader.get(reverse("feeds:upload_detail", args=[item.pk])).content.decode()
    assert "<progress" in body and "Refresh to see the progress" in body
    assert 'src="/static/signpost/upload-progress.js"' in body
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)", body)  # no inline script without a nonce


def test_the_error_report_downloads_as_csv_with_formulas_defused(uploader, organisation):
    upload(uploader, organisation, csv_bytes([row(1, nhs_number="1")]))
    item = CsvUpload.objects.get()
    response = uploader.get(reverse("feeds:upload_errors", args=[item.pk]))
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == ["line", "column", "message"] and lines[1][:2] == ["2", "nhs_number"]
    assert csv_format.write_rows(["a"], [["=1+1"], ["+44 20"], ["-x"], ["@sum"], ["ok"]]).splitlines() == [
        "a", "'=1+1", "'+44 20", "'-x", "'@sum", "ok"]


def test_ten_thousand_rows_go_through_the_task_with_progress_reported(organisation, la_admin):
    """Rows for known children (by NHS number): checked, then added in batches, progress written as it goes.
    (Uploaded by the LA admin: the organisation has no practitioner accounts, so no grants are made;
    grants per involvement are covered in test_bulk_upsert.)"""
    la = organisation.local_authority
    numbers = [factories.nhs_number_for(200_000 + n) for n in range(10_000)]
    Child.objects.bulk_create([Child(given_names="Amy", family_name=f"Child{n}", date_of_birth="2014-01-01",
                                     nhs_number=nhs, local_authority=la, reference=f"C-T{n:04d}-XXXXX"[:13])
                               for n, nhs in enumerate(numbers)])
    rows = [row(n, nhs_number=numbers[n]) for n in range(10_000)]
    item = CsvUpload.objects.create(organisation=organisation, uploaded_by=la_admin, filename="big.csv",
                                    content=csv_bytes(rows))

    with ProgressWrites() as checking:
        assert services.check_upload(item.pk) == 0
    item.refresh_from_db()
    assert (item.status, item.total_rows, item.valid_rows, item.processed_rows) == ("validated", 10_000, 10_000,
                                                                                     10_000)
    assert checking.values[:4] == [0, 500, 1000, 1500] and checking.values[-1] == 10_000

    CsvUpload.objects.filter(pk=item.pk).update(status=CsvUpload.Status.COMMITTING, processed_rows=0)
    with ProgressWrites() as adding:
        from feeds.tasks import commit_csv_upload

        assert commit_csv_upload.apply(args=[item.pk]).get() == 10_000
    item.refresh_from_db()
    assert item.status == "done" and item.result["created"] == 10_000 and item.percent == 100
    assert adding.values == list(range(1000, 10_001, 1000))  # after each batch of rows
    assert Involvement.objects.filter(organisation=organisation).count() == 10_000
    assert FeedBatch.objects.filter(upload=item).count() == 10
    assert AccessEvent.objects.filter(action="feed.bulk", actor_id=la_admin.pk).count() == 10


class ProgressWrites:
    """Watches the statements the task sends and keeps the processed-row counts it writes, in order:
    what the progress bar reads."""

    def __init__(self):
        self.values = []

    def __enter__(self):
        self._context = connection.execute_wrapper(self)
        self._context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "feeds_csvupload" in sql and '"processed_rows" = ' in sql:
            assignments = sql.split(" SET ", 1)[1].split(" WHERE ", 1)[0].split(", ")
            position = next(i for i, a in enumerate(assignments) if a.startswith('"processed_rows"'))
            self.values.append(params[position])
        return execute(sql, params, many, context)
