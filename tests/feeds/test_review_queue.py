"""The LA admin's review queue: candidates side by side with reasons; 'same child' folds the row into
the chosen record, 'new child' creates one; either way the involvement is added, once."""


import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from audit.models import AccessEvent
from children.models import Child, Involvement
from feeds.models import MatchReview
from tests import factories
from tests.feeds.conftest import post_rows, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(api, amelia):
    """A row that may be Amelia (same name and birthday, different area) waits for a decision."""
    response = post_rows(api, [row(1, family_name="Kocinski", postcode="LS6 2AB",
                                   nhs_number=factories.nhs_number_for(99))])
    assert response.json()["results"][0]["status"] == "queued_for_review"
    return MatchReview.objects.get()


@pytest.fixture
def admin(client, login_verified, la_admin):
    return login_verified(client, la_admin)


def test_the_review_page_shows_the_row_beside_each_candidate_with_reasons(admin, queued, amelia):
    response = admin.get(reverse("feeds:review", args=[queued.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Incoming row" in body and f"Record {amelia.reference}" in body
    assert "Date of birth matches" in body and "Postcode differs (may have moved)" in body
    assert "W6" in body and "LS6 2AB" in body
    assert amelia.nhs_number is None and "Not recorded" in body
    event = AccessEvent.objects.get(action="feed.review.view")
    assert event.details["candidates"] == [amelia.reference]


def test_same_child_adds_the_involvement_and_what_the_row_knew_to_the_chosen_record(admin, queued, amelia, la_admin):
    response = admin.post(reverse("feeds:review", args=[queued.pk]), {"decision": str(amelia.pk)})
    assert response.status_code == 302
    involvement = Involvement.objects.get()
    assert involvement.child == amelia and involvement.external_id == "EXT-1"
    amelia.refresh_from_db()
    assert amelia.nhs_number == factories.nhs_number_for(99)  # filled in: the record had none
    assert amelia.names.filter(kind="other", family_name="Kocinski").exists()
    queued.refresh_from_db()
    assert (queued.status, queued.child, queued.decided_by) == ("attached", amelia, la_admin)
    assert AccessEvent.objects.get(action="feed.review.same_child").child_ref == amelia.reference
    assert LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Involvement),
                                   object_id=involvement.pk).exists()
    assert Child.objects.count() == 1


def test_new_child_creates_a_record_for_the_row(admin, queued, amelia):
    admin.post(reverse("feeds:review", args=[queued.pk]), {"decision": "new"})
    involvement = Involvement.objects.get()
    assert involvement.child != amelia
    assert involvement.child.postcode == "LS6 2AB" and involvement.child.family_name == "Kocinski"
    assert MatchReview.objects.get().status == "new_child"
    assert AccessEvent.objects.filter(action="feed.review.new_child").count() == 1


def test_after_a_decision_the_same_row_again_is_unchanged(admin, api, queued, amelia):
    admin.post(reverse("feeds:review", args=[queued.pk]), {"decision": str(amelia.pk)})
    response = post_rows(api, [row(1, family_name="Kocinski", postcode="LS6 2AB",
                                   nhs_number=factories.nhs_number_for(99))])
    assert response.json()["results"][0]["status"] == "unchanged"


def test_a_decision_is_taken_once(admin, queued, amelia):
    admin.post(reverse("feeds:review", args=[queued.pk]), {"decision": str(amelia.pk)})
    response = admin.post(reverse("feeds:review", args=[queued.pk]), {"decision": "new"})
    assert response.status_code == 200 and b"already been decided" in response.content
    assert Involvement.objects.count() == 1 and Child.objects.count() == 1


def test_a_record_that_is_not_a_candidate_cannot_be_chosen(admin, queued):
    stranger = factories.ChildFactory()
    response = admin.post(reverse("feeds:review", args=[queued.pk]), {"decision": str(stranger.pk)})
    assert response.status_code == 400 and b"There is a problem" in response.content
    assert not Involvement.objects.exists()


def test_no_choice_is_explained_on_the_form(admin, queued):
    response = admin.post(reverse("feeds:review", args=[queued.pk]), {})
    assert response.status_code == 400
    assert b"Choose a record, or that this is a new child." in response.content


def test_the_queue_lists_open_rows_of_the_admins_area(admin, queued, organisation):
    body = admin.get(reverse("feeds:reviews")).content.decode()
    assert organisation.name in body and "EXT-1" in body and reverse("feeds:review", args=[queued.pk]) in body


def test_a_sensitive_service_is_not_named_on_the_review_page(admin, queued, school_nursing):
    school_nursing.sensitive = True
    school_nursing.save()
    body = admin.get(reverse("feeds:review", args=[queued.pk])).content.decode()
    assert "A sensitive service" in body and "School nursing" not in body
