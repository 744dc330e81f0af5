"""Every feed page: anonymous -> sign in; no authenticator yet -> set one up; a session that skipped the
code, wrong role, another LA's admin -> 403 (audited ``access.refused`` by practitioners' page guards);
the right user -> the page, with its audit event."""

from datetime import date

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AccessEvent
from feeds.models import ChildMerge, CsvUpload, MatchReview
from practitioners import roles
from tests import factories
from tests.feeds.conftest import make_token

pytestmark = pytest.mark.django_db

ROW = {"external_id": "MIS-REVIEW-7731", "given_names": "Amelia", "family_name": "Kocinski",
       "date_of_birth": "2015-03-27", "sex": "F", "nhs_number": "", "upn": "", "address_line": "",
       "postcode": "LS6 2AB", "service": "school-nursing", "started_on": "2024-09-02", "ended_on": None,
       "contact_phone": "020 7946 0000", "contact_email": ""}


@pytest.fixture
def world(organisation, la_admin, school_nursing):
    la = organisation.local_authority
    child = factories.ChildFactory(local_authority=la)
    other = factories.ChildFactory(local_authority=la)
    token, _ = make_token(organisation)
    return {
        "token": token,
        "review": MatchReview.objects.create(organisation=organisation, external_id="MIS-REVIEW-7731", row=ROW,
                                             candidates=[{"child_id": child.pk, "score": 0.9, "reasons": ["x"]}]),
        "merge": ChildMerge.objects.create(merged_child=other, into=child, reason="duplicate", moved={}),
        "upload": CsvUpload.objects.create(organisation=organisation, uploaded_by=la_admin, filename="x.csv",
                                           status=CsvUpload.Status.VALIDATED, total_rows=1, valid_rows=1),
    }


ADMIN_PAGES = [  # (url name, object key or None, method, audit action of a successful GET)
    ("feeds:home", None, "get", "feed.hub.view"),
    ("feeds:tokens", None, "get", "feed.token.list"),
    ("feeds:token_revoke", "token", "get", "feed.token.view"),
    ("feeds:token_rotate", "token", "post", None),
    ("feeds:reviews", None, "get", "feed.review.list"),
    ("feeds:review", "review", "get", "feed.review.view"),
    ("feeds:merges", None, "get", "child.merge.list"),
    ("feeds:merge", None, "get", "child.merge.form"),
    ("feeds:merge_undo", "merge", "post", None),
    ("feeds:quality", None, "get", "feed.quality.view"),
]
UPLOAD_PAGES = [
    ("feeds:upload", None, "get", "feed.csv.form"),
    ("feeds:upload_template", None, "get", "feed.csv.template"),
    ("feeds:upload_detail", "upload", "get", "feed.csv.view"),
    ("feeds:upload_status", "upload", "get", "feed.csv.status"),
    ("feeds:upload_errors", "upload", "get", "feed.csv.errors"),
]
ALL_PAGES = ADMIN_PAGES + UPLOAD_PAGES


def url_of(world, name, key):
    return reverse(name, args=[world[key].pk] if key else [])


def call(client, world, name, key, method):
    return getattr(client, method)(url_of(world, name, key))


def denied_events(why=None):
    refused = AccessEvent.objects.filter(action="access.refused", outcome="denied")
    return (refused.filter(details__why=why) if why else refused).count()


@pytest.mark.parametrize("name, key, method, action", ALL_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, world, name, key, method, action):
    response = call(client, world, name, key, method)
    assert response.status_code == 302 and reverse("two_factor:login") in response["Location"]


@pytest.mark.parametrize("name, key, method, action", ALL_PAGES)
def test_without_an_authenticator_the_user_is_sent_to_set_one_up(client, world, la_admin, name, key, method,
                                                                  action):
    client.force_login(la_admin)
    response = call(client, world, name, key, method)
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor:setup"))
    assert denied_events() == 0 and not AccessEvent.objects.filter(action__startswith="feed.").exists()


@pytest.mark.parametrize("name, key, method, action", ALL_PAGES)
def test_a_session_that_skipped_the_code_is_refused(client, world, la_admin, name, key, method, action):
    TOTPDevice.objects.create(user=la_admin, name="phone")
    client.force_login(la_admin)
    assert call(client, world, name, key, method).status_code == 403
    assert denied_events("unverified") == 1


@pytest.mark.parametrize("name, key, method, action", ADMIN_PAGES)
def test_a_practitioner_who_is_not_an_la_admin_is_refused(client, login_verified, world, organisation, name, key,
                                                         method, action):
    practitioner = factories.PractitionerFactory(organisation=organisation)
    login_verified(client, practitioner.user)
    assert call(client, world, name, key, method).status_code == 403
    assert denied_events("wrong_role") == 1


@pytest.mark.parametrize("name, key, method, action", UPLOAD_PAGES)
def test_an_auditor_cannot_upload(client, login_verified, world, name, key, method, action):
    auditor = factories.UserFactory(roles=[roles.AUDITOR])
    login_verified(client, auditor)
    assert call(client, world, name, key, method).status_code == 403
    assert denied_events("wrong_role") == 1


@pytest.mark.parametrize("name, key, method, action", [p for p in ALL_PAGES if p[1]])
def test_another_las_admin_cannot_reach_this_las_objects(client, login_verified, world, other_la_admin, name, key,
                                                         method, action):
    factories.OrganisationFactory(local_authority=other_la_admin.la_admin_roles.get().local_authority)
    login_verified(client, other_la_admin)
    assert call(client, world, name, key, method).status_code == 403
    assert denied_events("not_theirs") == 1


@pytest.mark.parametrize("name", ["feeds:tokens", "feeds:reviews", "feeds:merges", "feeds:quality", "feeds:upload"])
def test_another_las_admin_sees_none_of_this_las_items_in_lists(client, login_verified, world, other_la_admin,
                                                               organisation, name):
    factories.OrganisationFactory(local_authority=other_la_admin.la_admin_roles.get().local_authority)
    login_verified(client, other_la_admin)
    response = client.get(reverse(name))
    assert response.status_code == 200
    body = response.content.decode()
    hidden = (organisation.name, world["token"].prefix, "MIS-REVIEW-7731", world["merge"].into.reference, "x.csv")
    for secret in hidden:
        assert secret not in body


@pytest.mark.parametrize("name, key, method, action", [p for p in ALL_PAGES if p[3]])
def test_each_page_writes_its_audit_event(client, login_verified, world, la_admin, name, key, method, action):
    login_verified(client, la_admin)
    response = call(client, world, name, key, method)
    assert response.status_code == 200, response.content[:300]
    event = AccessEvent.objects.filter(action=action).latest("id")
    assert event.actor_id == la_admin.pk and event.outcome == "allowed"


def test_the_la_admin_navigation_links_to_data_feeds(client, login_verified, la_admin):
    login_verified(client, la_admin)
    assert reverse("feeds:home").encode() in client.get(reverse("home")).content


def test_an_la_admins_page_shows_a_stale_date_only_for_today(client, login_verified, la_admin, world):
    # the review page shows the incoming row beside the candidate: both dates of birth
    login_verified(client, la_admin)
    body = client.get(reverse("feeds:review", args=[world["review"].pk])).content.decode()
    assert "2015-03-27" in body and date.today().isoformat() not in body.split("Service:")[0]
