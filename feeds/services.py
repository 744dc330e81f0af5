"""Writes for feeds: each checks who may, audits and writes in one transaction.

Tokens (issue, rotate, revoke), API batches, review-queue decisions, CSV uploads.
Merging duplicate child records is in ``feeds.merging``; the bulk upsert itself
is ``feeds.ingest``.
"""

import logging
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import services as audit
from audit.context import RequestContext
from children.models import Child, Involvement
from feeds import access, bulk, csv_format, history, ingest
from feeds.models import CsvUpload, FeedBatch, MatchReview, OrganisationToken
from feeds.serializers import row_from_json
from practitioners.models import Claim, Service
from practitioners.services import organisation_can_open, record_claims, sync_organisation_access

logger = logging.getLogger(__name__)

UPLOAD_ERRORS_KEPT = 500
PROGRESS_EVERY = 500


# -- tokens -----------------------------------------------------------------------------------------------------

@transaction.atomic
def issue_token(*, user, organisation, name: str, context: RequestContext,
                rotated_from: OrganisationToken | None = None) -> tuple[OrganisationToken, str]:
    """A new token for ``organisation``; returns it with its key, which is never stored or shown again."""
    access.require_admin_of(user, organisation.local_authority_id)
    key = OrganisationToken.new_key()
    token = OrganisationToken.objects.create(
        name=name, organisation=organisation, prefix=key[:10], key_hash=OrganisationToken.hash_key(key),
        created_by=user, rotated_from=rotated_from,
    )
    audit.record_event(
        action="feed.token.rotate" if rotated_from else "feed.token.issue", context=context,
        details={"token_id": token.pk, "organisation_id": organisation.pk,
                 "rotated_from": getattr(rotated_from, "pk", None)},
    )
    return token, key


@transaction.atomic
def revoke_token(*, user, token: OrganisationToken, context: RequestContext, audit_action="feed.token.revoke") -> bool:
    """Revoke at once (False if it already was). The next request with it is refused."""
    access.require_admin_of(user, token.organisation.local_authority_id)
    done = bool(OrganisationToken.objects.filter(pk=token.pk, revoked_at__isnull=True)
                .update(revoked_at=timezone.now(), revoked_by=user))
    if done:
        audit.record_event(action=audit_action, context=context,
                           details={"token_id": token.pk, "organisation_id": token.organisation_id})
    return done


@transaction.atomic
def rotate_token(*, user, token: OrganisationToken, context: RequestContext) -> tuple[OrganisationToken, str]:
    """Replace a live token with a new one of the same name; the old one stops working now."""
    token = OrganisationToken.objects.select_for_update().select_related("organisation").get(pk=token.pk)
    access.require_admin_of(user, token.organisation.local_authority_id)
    if token.revoked_at is not None:
        raise ValidationError("This token has been revoked; issue a new one instead.")
    revoke_token(user=user, token=token, context=context, audit_action="feed.token.revoke_rotated")
    return issue_token(user=user, organisation=token.organisation, name=token.name, context=context,
                       rotated_from=token)


# -- API batches ------------------------------------------------------------------------------------------------

def receive_batch(*, token: OrganisationToken, rows: list, context: RequestContext) -> ingest.BatchResult:
    """Upsert one API batch for the token's own organisation (and no other)."""
    if token.revoked_at is not None:
        raise PermissionDenied("This token has been revoked.")
    return ingest.ingest_rows(organisation=token.organisation, rows=rows, source=FeedBatch.Source.API,
                              context=context, token=token)


# -- review queue -----------------------------------------------------------------------------------------------

@dataclass
class CandidateView:
    child: Child
    score: float
    reasons: list[str]
    nhs_number: str  # "same", "different", "not recorded", "" (row has none)
    upn: str


@dataclass
class ReviewView:
    review: MatchReview
    row: dict
    candidates: list[CandidateView]


def _identifier_note(row_value: str, child_value: str | None) -> str:
    if not row_value:
        return ""
    if not child_value:
        return "not recorded"
    return "the same" if row_value == child_value else "different"


@transaction.atomic
def open_review(*, user, review: MatchReview, context: RequestContext) -> ReviewView:
    """The incoming row beside its candidates; audits ``feed.review.view`` naming every candidate."""
    access.require_admin_of(user, review.organisation.local_authority_id)
    by_id = {c.pk: c for c in Child.objects.filter(pk__in=[c["child_id"] for c in review.candidates])
             .select_related("local_authority").prefetch_related("names")}
    candidates = []
    for item in review.candidates:
        child = by_id.get(item["child_id"])
        if child is None:  # deleted by retention since it was queued
            continue
        candidates.append(CandidateView(
            child=child, score=item["score"], reasons=item["reasons"],
            nhs_number=_identifier_note(review.row.get("nhs_number", ""), child.nhs_number),
            upn=_identifier_note(review.row.get("upn", ""), child.upn),
        ))
    audit.record_event(action="feed.review.view", context=context,
                       details={"review_id": review.pk, "organisation_id": review.organisation_id,
                                "candidates": [c.child.reference for c in candidates]})
    return ReviewView(review=review, row=review.row, candidates=candidates)


def _locked_open_review(review: MatchReview, user) -> MatchReview:
    review = MatchReview.objects.select_for_update().select_related("organisation").get(pk=review.pk)
    access.require_admin_of(user, review.organisation.local_authority_id)
    if not review.is_open:
        raise ValidationError("This row has already been decided.")
    if Involvement.objects.filter(organisation=review.organisation, external_id=review.external_id).exists():
        review.status, review.decided_at, review.updated_at = (MatchReview.Status.SUPERSEDED, timezone.now(),
                                                                timezone.now())
        review.save(update_fields=["status", "decided_at", "updated_at"])
        raise ValidationError("A later row from the source has already been matched; nothing to decide.")
    return review


def _attach(review: MatchReview, child: Child, *, user, context: RequestContext, status: str) -> Involvement:
    services = {s.code: s for s in Service.objects.all()}
    row = row_from_json(review.row, services=services)
    now = timezone.now()
    involvement = Involvement(
        child=child, organisation=review.organisation, service=row["service"], started_on=row["started_on"],
        ended_on=row.get("ended_on"), contact_phone=row["contact_phone"], contact_email=row["contact_email"],
        external_id=review.external_id, last_confirmed_at=now, created_at=now,
    )
    try:
        with transaction.atomic():
            bulk.insert([involvement], with_ids=True)  # no signals: the history is written just below
    except IntegrityError:
        raise ValidationError("The source sent this row again at the same moment; reload the page.") from None
    history.write([history.entry(old=None, new=involvement, context=context, now=now,
                                 additional_data={"source": "feed.review", "review_id": review.pk})])
    Child.objects.filter(pk=child.pk).update(last_activity_at=now)
    batch = review.batch
    if involvement.ended_on is None and (batch is None or batch.source != FeedBatch.Source.API) \
            and not organisation_can_open(review.organisation, [child.pk]):
        # A row a person uploaded stays a claim, whoever matched it to a child (issue 16).
        upload = batch.upload if batch is not None else None
        record_claims(involvements=[involvement], route=Claim.Route.UPLOAD, context=context,
                      claimed_by=getattr(upload, "uploaded_by", None), upload_id=getattr(upload, "pk", None),
                      reason=f"CSV upload {getattr(upload, 'pk', None)} (matched in the review queue)", now=now)
    sync_organisation_access(opened={(involvement.organisation_id, child.pk)}, context=context)
    review.status, review.child, review.involvement = status, child, involvement
    review.decided_by, review.decided_at, review.updated_at = user, now, now
    review.save(update_fields=["status", "child", "involvement", "decided_by", "decided_at", "updated_at"])
    return involvement


@transaction.atomic
def decide_same_child(*, user, review: MatchReview, child_id: int, context: RequestContext) -> Involvement:
    """The row is about candidate ``child_id``: fold its names/identifiers in and add the involvement."""
    review = _locked_open_review(review, user)
    if child_id not in {c["child_id"] for c in review.candidates}:
        raise ValidationError("Choose one of the candidate records.")
    child = Child.objects.active().filter(pk=child_id).first()
    if child is None:
        raise ValidationError("That record no longer exists or has been merged; choose another.")
    services = {s.code: s for s in Service.objects.all()}
    added = ingest.enrich_child(child, row_from_json(review.row, services=services))
    involvement = _attach(review, child, user=user, context=context, status=MatchReview.Status.ATTACHED)
    audit.record_event(action="feed.review.same_child", context=context, child=child,
                       details={"review_id": review.pk, "organisation_id": review.organisation_id,
                                "involvement_id": involvement.pk, "added": added})
    return involvement


@transaction.atomic
def decide_new_child(*, user, review: MatchReview, context: RequestContext) -> Involvement:
    """None of the candidates: the row's child gets a record of their own."""
    review = _locked_open_review(review, user)
    services = {s.code: s for s in Service.objects.all()}
    row = row_from_json(review.row, services=services)
    for name in ("nhs_number", "upn"):
        if row.get(name) and Child.objects.filter(**{name: row[name]}).exists():
            raise ValidationError("Another record already has this row's identifier: it must be the same child.")
    child = ingest.new_child_from_row(row, organisation=review.organisation)
    involvement = _attach(review, child, user=user, context=context, status=MatchReview.Status.NEW_CHILD)
    audit.record_event(action="feed.review.new_child", context=context, child=child,
                       details={"review_id": review.pk, "organisation_id": review.organisation_id,
                                "involvement_id": involvement.pk})
    return involvement


# -- CSV uploads ------------------------------------------------------------------------------------------------

@transaction.atomic
def start_upload(*, user, organisation, filename: str, content: bytes, context: RequestContext) -> CsvUpload:
    """Store the file and queue its check (the task runs in-process in the embedded setup)."""
    if not access.upload_organisations(user).filter(pk=organisation.pk).exists():
        raise PermissionDenied("You cannot upload involvements for this organisation.")
    upload = CsvUpload.objects.create(organisation=organisation, uploaded_by=user, filename=filename[:255],
                                      content=content)
    audit.record_event(action="feed.csv.upload", context=context,
                       details={"upload_id": upload.pk, "organisation_id": organisation.pk, "bytes": len(content)})
    _enqueue("feeds.tasks.check_csv_upload", upload)
    return upload


def _enqueue(task_name: str, upload: CsvUpload):
    from feeds import tasks

    task = {"feeds.tasks.check_csv_upload": tasks.check_csv_upload,
            "feeds.tasks.commit_csv_upload": tasks.commit_csv_upload}[task_name]

    def send():
        result = task.delay(upload.pk)
        CsvUpload.objects.filter(pk=upload.pk).update(task_id=str(result.id or "")[:64])

    transaction.on_commit(send)


def _line_errors(line: int, detail: dict) -> list[dict]:
    return [{"line": line, "column": "" if column == "non_field_errors" else column, "message": message}
            for column, messages in detail.items() for message in messages]


def check_upload(upload_id: int) -> int:
    """Validate every line (progress as it goes); returns the error count. Safe to run twice."""
    upload = CsvUpload.objects.select_related("organisation").filter(
        pk=upload_id, status=CsvUpload.Status.VALIDATING).first()
    if upload is None:
        return 0
    try:
        rows = csv_format.read(bytes(upload.content))
    except csv_format.FileProblem as exc:
        CsvUpload.objects.filter(pk=upload.pk).update(status=CsvUpload.Status.REJECTED, file_error=str(exc),
                                                      content=b"", finished_at=timezone.now())
        return 1
    CsvUpload.objects.filter(pk=upload.pk).update(total_rows=len(rows), processed_rows=0)
    validator = ingest.row_validator(upload.organisation)
    errors, error_count, valid, seen = [], 0, 0, {}
    for n, (line, row) in enumerate(rows, start=1):
        problems = _check_line(validator, line, row, seen)
        if problems:
            error_count += 1
            errors.extend(problems[: max(0, UPLOAD_ERRORS_KEPT - len(errors))])
        else:
            valid += 1
        if n % PROGRESS_EVERY == 0:
            CsvUpload.objects.filter(pk=upload.pk).update(processed_rows=n)
    CsvUpload.objects.filter(pk=upload.pk, status=CsvUpload.Status.VALIDATING).update(
        status=CsvUpload.Status.VALIDATED, processed_rows=len(rows), valid_rows=valid, error_count=error_count,
        errors=errors,
    )
    return error_count


def _check_line(validator, line, row, seen) -> list[dict]:
    from rest_framework.exceptions import ValidationError as DRFValidationError

    if row.pop("__extra__", False):
        return [{"line": line, "column": "", "message": "This line has more cells than the first line has columns."}]
    try:
        data = validator.run_validation(row)
    except DRFValidationError as exc:
        return _line_errors(line, ingest.error_messages(exc.detail))
    if data["external_id"] in seen:
        return [{"line": line, "column": "external_id",
                 "message": f"The same external_id is on line {seen[data['external_id']]}."}]
    seen[data["external_id"]] = line
    return []


@transaction.atomic
def commit_upload(*, user, upload: CsvUpload, context: RequestContext) -> bool:
    """Start adding a checked upload's rows (False if it was not waiting to be committed)."""
    access.require_upload_access(user, upload)
    if not CsvUpload.objects.filter(pk=upload.pk, status=CsvUpload.Status.VALIDATED, valid_rows__gt=0).update(
            status=CsvUpload.Status.COMMITTING, processed_rows=0):
        return False
    audit.record_event(action="feed.csv.commit", context=context,
                       details={"upload_id": upload.pk, "organisation_id": upload.organisation_id,
                                "rows": upload.total_rows})
    _enqueue("feeds.tasks.commit_csv_upload", upload)
    return True


@transaction.atomic
def discard_upload(*, user, upload: CsvUpload, context: RequestContext) -> bool:
    access.require_upload_access(user, upload)
    if not CsvUpload.objects.filter(pk=upload.pk, status__in=[CsvUpload.Status.VALIDATED]).update(
            status=CsvUpload.Status.DISCARDED, content=b"", finished_at=timezone.now()):
        return False
    audit.record_event(action="feed.csv.discard", context=context,
                       details={"upload_id": upload.pk, "organisation_id": upload.organisation_id})
    return True


def process_upload(upload_id: int) -> int:
    """Add a committed upload's rows in batches through the feed's upsert, resuming where a previous
    run stopped (each chunk and its progress commit together). Returns rows processed."""
    upload = CsvUpload.objects.select_related("organisation", "uploaded_by").filter(
        pk=upload_id, status=CsvUpload.Status.COMMITTING).first()
    if upload is None:
        return 0
    from django.conf import settings

    rows = csv_format.read(bytes(upload.content))
    context = RequestContext(user=upload.uploaded_by, user_agent="csv-upload", request_id=f"csv-upload-{upload.pk}")
    totals = dict.fromkeys(ingest.OUTCOMES, 0) | (upload.result or {})
    seen: set[str] = set()
    for line, row in rows[: upload.processed_rows]:
        seen.add(row.get("external_id", ""))
    done = upload.processed_rows
    size = settings.FEED_BATCH_SIZE
    while done < len(rows):
        chunk = rows[done: done + size]
        send, skipped = [], 0
        for _, row in chunk:
            if row.pop("__extra__", False) or (row.get("external_id") and row["external_id"] in seen):
                skipped += 1  # reported when the file was checked
                continue
            seen.add(row.get("external_id", ""))
            send.append(row)
        with transaction.atomic():
            if send:
                outcome = ingest.ingest_rows(organisation=upload.organisation, rows=send,
                                             source=FeedBatch.Source.CSV, context=context, upload=upload)
                for status, count in outcome.counts.items():
                    totals[status] += count
            totals[ingest.ERROR] += skipped
            done += len(chunk)
            CsvUpload.objects.filter(pk=upload.pk).update(processed_rows=done, result=totals)
    CsvUpload.objects.filter(pk=upload.pk, status=CsvUpload.Status.COMMITTING).update(
        status=CsvUpload.Status.DONE, content=b"", finished_at=timezone.now(), result=totals)
    return done
