"""Issue 16, items 1 and 2, from the attacker's side: every route to a record an LA admin or auditor
can see, review and end.

The reproduction of each side door as filed, then what now happens instead: a CSV upload or a form
claim by a practitioner whose organisation cannot open the child gives only a time-boxed claimed
grant, flagged to the child's LA admin and to auditors, that lapses unless confirmed; uploads need
the data manager duty; break-glass no longer turns into standing access or moves a child away.
"""

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.context import RequestContext
from audit.models import AccessEvent
from children.models import Child, Involvement
from feeds import csv_format
from feeds.models import CsvUpload, OrganisationToken
from practitioners import expiry, permissions, services
from practitioners.models import AccessGrant, Claim
from signpost.celery import app as celery_app
from tests import factories
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db

BREAK_GLASS_REASON = "Police report the child missing overnight; need the allocated social worker"


@pytest.fixture(autouse=True)
def _tasks_run_when_the_request_commits(monkeypatch, django_capture_on_commit_callbacks):
    """Upload tasks are queued on commit and run in-process (as in the embedded setup); the test
    transaction never commits, so run them as each request ends, as a committed request would."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    original = Client.request

    def request(self, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return original(self, **kwargs)

    monkeypatch.setattr(Client, "request", request)
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def world(db):
    hammersmith = factories.LocalAuthorityFactory(name="Hammersmith and Fulham", safeguarding_contact="020 8753 6610",
                                                   out_of_hours_phone="020 8748 8588")
    cornwall = factories.LocalAuthorityFactory(name="Cornwall", safeguarding_contact="0300 123 1116",
                                               out_of_hours_phone="01208 251300")
    nursing = factories.ServiceFactory(code="school-nursing", name="School nursing")
    school = factories.OrganisationFactory(name="Riverside Academy", local_authority=hammersmith)
    school.services.add(nursing)
    teacher = factories.PractitionerFactory(organisation=school, user__username="hammersmith.teacher",
                                            data_manager=True)
    return {
        "hammersmith": hammersmith, "cornwall": cornwall, "school": school, "nursing": nursing,
        "teacher": teacher,
        "colleague": factories.PractitionerFactory(organisation=school),
        "cornwall_child": factories.ChildFactory(given_names="Morwenna", family_name="Trelawny",
                                                 date_of_birth=date(2014, 6, 12), postcode="TR1 2AB",
                                                 local_authority=cornwall),
        "local_child": factories.ChildFactory(given_names="Aisha", family_name="Okonjo",
                                              date_of_birth=date(2015, 2, 3), postcode="W6 9LA",
                                              local_authority=hammersmith),
        "cornwall_admin": factories.LAAdminFactory(local_authority=cornwall).user,
        "hammersmith_admin": factories.LAAdminFactory(local_authority=hammersmith).user,
    }


def signed_in(user) -> Client:
    return verified_login(Client(), user)


def csv_for(child, external_id="MIS-1", ended_on="") -> bytes:
    """One line, as the attacker writes it from what a search showed: name and date of birth."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csv_format.COLUMN_NAMES)
    writer.writeheader()
    writer.writerow({"external_id": external_id, "given_names": child.given_names, "family_name": child.family_name,
                     "date_of_birth": child.date_of_birth.isoformat(), "sex": child.sex,
                     "nhs_number": child.nhs_number, "service": "school-nursing", "started_on": "2024-09-02",
                     "ended_on": ended_on, "contact_phone": "020 7946 0000"})
    return out.getvalue().encode()


def upload_and_commit(client, organisation, content: bytes) -> CsvUpload:
    response = client.post(reverse("feeds:upload"), {
        "organisation": organisation.pk, "file": SimpleUploadedFile("pupils.csv", content, "text/csv")})
    assert response.status_code == 302, response.content.decode()[:500]
    upload = CsvUpload.objects.latest("pk")
    assert client.post(reverse("feeds:upload_detail", args=[upload.pk]), {"action": "commit"}).status_code == 302
    upload.refresh_from_db()
    assert upload.status == CsvUpload.Status.DONE
    return upload


def record(client, child):
    return client.get(child.get_absolute_url())


# --- Item 1: self-granted standing access by CSV upload --------------------------------------------

@pytest.mark.parametrize("which", ["cornwall_child", "local_child"])
def test_a_csv_upload_for_a_child_the_organisation_cannot_open_gives_only_a_time_boxed_claimed_grant(world, which):
    child, teacher = world[which], world["teacher"]
    attacker = signed_in(teacher.user)
    assert record(attacker, child).status_code == 403  # the side door's starting point
    upload = upload_and_commit(attacker, world["school"], csv_for(child))

    involvement = Involvement.objects.get(child=child, organisation=world["school"])
    claim = involvement.claim
    assert (claim.status, claim.route, claim.claimed_by, claim.upload_id) == ("open", "upload", teacher.user,
                                                                             upload.pk)
    # Not the whole organisation, and not open-ended: only the uploader, until the claim lapses.
    assert record(signed_in(world["colleague"].user), child).status_code == 403
    assert not permissions.children_with_organisation_access(world["school"]).filter(pk=child.pk).exists()
    assert record(attacker, child).status_code == 200
    grant = AccessGrant.objects.get(practitioner=teacher, child=child)
    assert grant.source == "claim" and grant.expires_at == claim.lapses_at
    assert claim.lapses_at - claim.claimed_at == timedelta(days=14)
    event = AccessEvent.objects.get(action="grant.claim")
    assert event.child_ref == child.reference and event.details["route"] == "upload"
    assert event.details["claimed_by"] == teacher.user.pk


def test_the_claim_is_flagged_to_the_childs_la_admin_and_to_auditors_not_to_other_areas(world):
    child = world["cornwall_child"]
    upload_and_commit(signed_in(world["teacher"].user), world["school"], csv_for(child))
    page = signed_in(world["cornwall_admin"]).get(reverse("practitioners:claims")).content.decode()
    assert child.reference in page and "Riverside Academy" in page and "CSV upload" in page
    other = signed_in(world["hammersmith_admin"]).get(reverse("practitioners:claims")).content.decode()
    assert child.reference not in other
    home = signed_in(world["cornwall_admin"]).get(reverse("practitioners:console")).content.decode()
    assert "Claimed relationships to confirm" in home
    from audit.selectors import anomalous_events

    today = timezone.localdate()
    flagged = anomalous_events("claimed", since=today, until=today, include_reviewed=False)
    assert list(flagged.values_list("child_ref", flat=True)) == [child.reference]


def test_an_unconfirmed_claim_lapses_in_the_grant_expiry_job_and_access_ends_once(world, settings):
    settings.CLAIM_CONFIRM_DAYS = 3
    child, teacher = world["cornwall_child"], world["teacher"]
    attacker = signed_in(teacher.user)
    upload_and_commit(attacker, world["school"], csv_for(child))
    assert expiry.revoke_expired_grants().counts["lapsed_claims"] == 0  # not yet
    later = timezone.now() + timedelta(days=3, minutes=1)
    result = expiry.revoke_expired_grants(now=later)
    assert result.counts["lapsed_claims"] == 1
    assert expiry.revoke_expired_grants(now=later).counts["lapsed_claims"] == 0  # idempotent
    claim = Claim.objects.get()
    assert claim.status == "lapsed" and claim.involvement.ended_on is not None
    assert AccessGrant.objects.get(source="claim").revoked_at is not None
    assert record(attacker, child).status_code == 403
    assert AccessEvent.objects.filter(action="claim.lapse", child_ref=child.reference).count() == 1


def test_the_same_upload_again_does_not_renew_a_waiting_claim(world):
    child = world["cornwall_child"]
    attacker = signed_in(world["teacher"].user)
    upload_and_commit(attacker, world["school"], csv_for(child))
    first = Claim.objects.get()
    upload_and_commit(attacker, world["school"], csv_for(child))
    again = Claim.objects.get()
    assert again.claimed_at == first.claimed_at and again.lapses_at == first.lapses_at
    assert AccessGrant.objects.filter(source="claim").count() == 1


def test_the_childs_la_admin_confirms_a_claim_and_the_organisation_gets_standing_access(world):
    child = world["cornwall_child"]
    upload_and_commit(signed_in(world["teacher"].user), world["school"], csv_for(child))
    claim = Claim.objects.get()
    url = reverse("practitioners:decide_claim", args=[claim.pk])
    # Another area's admin -- here the uploader's own -- cannot confirm it.
    assert signed_in(world["hammersmith_admin"]).post(url, {"decision": "confirm"}).status_code == 403
    assert Claim.objects.get().status == "open"
    assert signed_in(world["cornwall_admin"]).post(url, {"decision": "confirm"}).status_code == 302
    claim.refresh_from_db()
    assert (claim.status, claim.confirmed_by, claim.decided_by) == ("confirmed", "la_admin", world["cornwall_admin"])
    assert record(signed_in(world["colleague"].user), child).status_code == 200
    assert AccessGrant.objects.get(source="claim").revoked_at is not None  # no longer needed
    assert AccessEvent.objects.filter(action="claim.confirm", child_ref=child.reference).count() == 1
    assert expiry.revoke_expired_grants(now=timezone.now() + timedelta(days=30)).counts["lapsed_claims"] == 0


def test_the_organisations_system_feed_confirms_the_same_involvement(world):
    child = world["cornwall_child"]
    upload_and_commit(signed_in(world["teacher"].user), world["school"], csv_for(child, external_id="MIS-7"))
    key = OrganisationToken.new_key()
    OrganisationToken.objects.create(name="MIS", organisation=world["school"], prefix=key[:10],
                                     key_hash=OrganisationToken.hash_key(key))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    row = {"external_id": "MIS-7", "given_names": child.given_names, "family_name": child.family_name,
           "date_of_birth": child.date_of_birth.isoformat(), "nhs_number": child.nhs_number,
           "service": "school-nursing", "started_on": "2024-09-02", "contact_phone": "020 7946 0000"}
    assert api.post("/api/v1/involvements/bulk", {"rows": [row]}, format="json").status_code == 200
    claim = Claim.objects.get()
    assert (claim.status, claim.confirmed_by) == ("confirmed", "feed")
    assert record(signed_in(world["colleague"].user), child).status_code == 200
    assert AccessEvent.objects.filter(action="claim.confirm").get().details["confirmed_by"] == "feed"


def test_a_feed_row_for_a_child_the_organisation_could_not_open_still_gives_standing_access(world):
    """The system feed is the other route, not a claim: its token was issued by an LA admin."""
    child = world["local_child"]
    key = OrganisationToken.new_key()
    OrganisationToken.objects.create(name="MIS", organisation=world["school"], prefix=key[:10],
                                     key_hash=OrganisationToken.hash_key(key))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    row = {"external_id": "MIS-9", "given_names": child.given_names, "family_name": child.family_name,
           "date_of_birth": child.date_of_birth.isoformat(), "nhs_number": child.nhs_number,
           "service": "school-nursing", "started_on": "2024-09-02", "contact_phone": "020 7946 0000"}
    assert api.post("/api/v1/involvements/bulk", {"rows": [row]}, format="json").status_code == 200
    assert not Claim.objects.exists()
    assert record(signed_in(world["colleague"].user), child).status_code == 200


def test_a_row_uploaded_for_a_child_the_organisation_already_opens_is_no_claim(world):
    child = world["local_child"]
    involvement = factories.InvolvementFactory(child=child, organisation=world["school"], service=world["nursing"])
    services.sync_organisation_access(opened={(world["school"].pk, child.pk)}, context=RequestContext.system("t"))
    upload_and_commit(signed_in(world["teacher"].user), world["school"], csv_for(child, external_id="MIS-2"))
    assert Involvement.objects.filter(child=child, organisation=world["school"]).count() == 2
    assert not Claim.objects.exists() and not AccessGrant.objects.filter(source="claim").exists()
    assert involvement.pk  # the feed's involvement is untouched


def test_a_row_matched_in_the_review_queue_stays_a_claim(world):
    """A possible match goes to the uploader's own LA admin; their choice must not give standing access to
    a child of another area."""
    from feeds import services as feed_services
    from feeds.models import FeedBatch, MatchReview

    child = world["cornwall_child"]
    upload = CsvUpload.objects.create(organisation=world["school"], uploaded_by=world["teacher"].user,
                                      filename="pupils.csv", content=b"", status=CsvUpload.Status.DONE)
    batch = FeedBatch.objects.create(organisation=world["school"], upload=upload, source=FeedBatch.Source.CSV,
                                     received_at=timezone.now())
    review = MatchReview.objects.create(
        organisation=world["school"], batch=batch, external_id="MIS-3",
        row={"external_id": "MIS-3", "given_names": "Morwena", "family_name": "Trelawney",
             "date_of_birth": "2014-06-12", "sex": "F", "service": "school-nursing", "started_on": "2024-09-02",
             "contact_phone": "020 7946 0000", "contact_email": ""},
        candidates=[{"child_id": child.pk, "score": 0.9, "reasons": ["Date of birth the same"]}])
    admin = world["hammersmith_admin"]
    admin.is_verified = lambda: True
    feed_services.decide_same_child(user=admin, review=review, child_id=child.pk,
                                    context=RequestContext(user=admin))
    claim = Claim.objects.get()
    assert claim.status == "open" and claim.claimed_by == world["teacher"].user
    assert not permissions.children_with_organisation_access(world["school"]).filter(pk=child.pk).exists()


# --- Item 2: the data manager duty -------------------------------------------------------------------

def test_a_practitioner_without_the_data_manager_duty_cannot_upload(world):
    colleague = signed_in(world["colleague"].user)
    assert colleague.get(reverse("feeds:upload")).status_code == 403
    response = colleague.post(reverse("feeds:upload"), {
        "organisation": world["school"].pk,
        "file": SimpleUploadedFile("pupils.csv", csv_for(world["cornwall_child"]), "text/csv")})
    assert response.status_code == 403 and not CsvUpload.objects.exists()


def test_the_practitioners_la_admin_gives_and_removes_the_duty_and_each_change_is_audited(world):
    colleague = world["colleague"]
    url = reverse("practitioners:data_manager", args=[colleague.pk])
    admin = signed_in(world["hammersmith_admin"])
    assert admin.get(url).status_code == 200
    assert admin.post(url, {"data_manager": "yes"}).status_code == 302
    colleague.refresh_from_db()
    assert colleague.data_manager
    assert signed_in(colleague.user).get(reverse("feeds:upload")).status_code == 200
    assert admin.post(url, {"data_manager": "no"}).status_code == 302
    colleague.refresh_from_db()
    assert not colleague.data_manager
    assert signed_in(colleague.user).get(reverse("feeds:upload")).status_code == 403
    assert list(AccessEvent.objects.filter(action__startswith="practitioner.data_manager").order_by("id")
                .values_list("action", "actor_id")) == [
        ("practitioner.data_manager.grant", world["hammersmith_admin"].pk),
        ("practitioner.data_manager.remove", world["hammersmith_admin"].pk)]


@pytest.mark.parametrize("who", ["cornwall_admin", "teacher"])
def test_nobody_else_can_give_the_duty(world, who):
    user = world[who].user if who == "teacher" else world[who]
    colleague = world["colleague"]
    response = signed_in(user).post(reverse("practitioners:data_manager", args=[colleague.pk]),
                                    {"data_manager": "yes"})
    assert response.status_code == 403
    colleague.refresh_from_db()
    assert not colleague.data_manager
    assert not AccessEvent.objects.filter(action__startswith="practitioner.data_manager").exists()


# --- Item 2: break-glass turned into standing access ---------------------------------------------------

def break_glass(client, child):
    response = client.post(reverse("practitioners:break_glass", kwargs={"reference": child.reference}),
                           {"reason": BREAK_GLASS_REASON, "confirm": "on"})
    assert response.status_code == 302


def test_under_break_glass_recording_an_involvement_is_only_a_claim_that_ends_with_the_window(world):
    child, teacher = world["cornwall_child"], world["teacher"]
    attacker = signed_in(teacher.user)
    break_glass(attacker, child)
    response = attacker.post(reverse("children:add_involvement", kwargs={"reference": child.reference}), {
        "service": world["nursing"].pk, "contact_phone": "020 7946 0123",
        "start_day": "6", "start_month": "1", "start_year": "2025"})
    assert response.status_code == 302
    claim = Claim.objects.get()
    window = AccessGrant.objects.get(source="break_glass")
    assert (claim.route, claim.break_glass) == ("break_glass", window)
    assert record(signed_in(world["colleague"].user), child).status_code == 403  # no standing access
    # The window closes as before: the claim gives the practitioner nothing longer.
    expiry.revoke_expired_grants(now=timezone.now() + timedelta(hours=25))
    assert record(attacker, child).status_code == 403


def test_under_break_glass_a_child_cannot_be_moved_to_another_local_authority(world):
    child, attacker = world["cornwall_child"], signed_in(world["teacher"].user)
    break_glass(attacker, child)
    day = timezone.localdate() - timedelta(days=1)
    response = attacker.post(reverse("children:move", kwargs={"reference": child.reference}), {
        "address_line": "1 Talgarth Road", "postcode": "W6 9LA", "local_authority": world["hammersmith"].pk,
        "moved_day": day.day, "moved_month": day.month, "moved_year": day.year})
    assert response.status_code == 400
    assert "cannot move this child to another local authority" in response.content.decode()
    child.refresh_from_db()
    assert child.local_authority == world["cornwall"] and child.postcode == "TR1 2AB"
    event = AccessEvent.objects.filter(action="child.move").get()
    assert event.outcome == "denied" and event.details["refused"] == "no standing access"


def test_a_claimed_or_personal_grant_cannot_move_a_child_away_either(world):
    child = world["cornwall_child"]
    services.grant_access(practitioner=world["teacher"], child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                          reason="Team around the child", expires_at=timezone.now() + timedelta(days=3),
                          context=RequestContext.system("t"))
    with pytest.raises(Exception) as refused:
        from children import services as child_services

        world["teacher"].user.is_verified = lambda: True
        child_services.record_move(reference=child.reference, context=RequestContext(user=world["teacher"].user),
                                   address=child_services.NewAddress(
                                       address_line="1 Talgarth Road", postcode="W6 9LA",
                                       local_authority=world["hammersmith"], moved_in_on=timezone.localdate()))
    assert "another local authority" in str(refused.value)
    assert Child.objects.get(pk=child.pk).local_authority == world["cornwall"]


def test_the_owning_la_admin_can_still_move_a_child_to_another_area(world):
    child, admin = world["cornwall_child"], signed_in(world["cornwall_admin"])
    day = timezone.localdate() - timedelta(days=1)
    response = admin.post(reverse("children:move", kwargs={"reference": child.reference}), {
        "address_line": "1 Talgarth Road", "postcode": "W6 9LA", "local_authority": world["hammersmith"].pk,
        "moved_day": day.day, "moved_month": day.month, "moved_year": day.year})
    assert response.status_code == 302
    assert Child.objects.get(pk=child.pk).local_authority == world["hammersmith"]


def test_when_the_organisation_ends_a_claimed_involvement_the_claimed_grant_ends_with_it(world):
    child, teacher = world["cornwall_child"], world["teacher"]
    attacker = signed_in(teacher.user)
    upload_and_commit(attacker, world["school"], csv_for(child, external_id="MIS-4"))
    upload_and_commit(attacker, world["school"], csv_for(child, external_id="MIS-4", ended_on="2024-12-01"))
    claim = Claim.objects.get()
    assert claim.status == "ended" and claim.involvement.ended_on == date(2024, 12, 1)
    assert record(attacker, child).status_code == 403


def test_a_row_for_a_child_nobody_has_recorded_creates_the_record_as_a_claim(world):
    newcomer = Child(given_names="Zofia", family_name="Wiśniewska", date_of_birth=date(2016, 8, 19), sex="F",
                     nhs_number=factories.nhs_number_for(77_001))
    upload_and_commit(signed_in(world["teacher"].user), world["school"], csv_for(newcomer, external_id="MIS-5"))
    child = Child.objects.get(nhs_number=newcomer.nhs_number)
    claim = Claim.objects.get(involvement__child=child)
    assert claim.status == "open" and child.local_authority == world["hammersmith"]
    assert record(signed_in(world["colleague"].user), child).status_code == 403
    page = signed_in(world["hammersmith_admin"]).get(reverse("practitioners:claims")).content.decode()
    assert child.reference in page


def test_the_feed_sending_its_own_involvement_for_the_same_child_confirms_a_form_claim(world):
    child, teacher = world["local_child"], world["teacher"]
    services.grant_access(practitioner=teacher, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                          reason="Team around the child", expires_at=timezone.now() + timedelta(days=3),
                          context=RequestContext.system("t"))
    response = signed_in(teacher.user).post(reverse("children:add_involvement", kwargs={"reference": child.reference}),
                                            {"service": world["nursing"].pk, "contact_phone": "020 7946 0123",
                                             "start_day": "6", "start_month": "1", "start_year": "2025"})
    assert response.status_code == 302 and Claim.objects.get().route == "form"
    key = OrganisationToken.new_key()
    OrganisationToken.objects.create(name="MIS", organisation=world["school"], prefix=key[:10],
                                     key_hash=OrganisationToken.hash_key(key))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    row = {"external_id": "MIS-8", "given_names": child.given_names, "family_name": child.family_name,
           "date_of_birth": child.date_of_birth.isoformat(), "nhs_number": child.nhs_number,
           "service": "school-nursing", "started_on": "2024-09-02", "contact_phone": "020 7946 0000"}
    assert api.post("/api/v1/involvements/bulk", {"rows": [row]}, format="json").status_code == 200
    assert Claim.objects.get().status == "confirmed"
    # Confirmed once, and audited once.
    assert AccessEvent.objects.filter(action="claim.confirm").count() == 1
