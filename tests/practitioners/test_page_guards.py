"""Every access-control page refuses the wrong people in the same order: anonymous -> sign in,
no verified second factor -> refused, wrong role -> 403, another LA's admin -> 403."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners import services
from practitioners.models import AccessGrant, AccessRequest
from tests.practitioners.conftest import enrol

pytestmark = pytest.mark.django_db

PRACTITIONER_PAGES = ["request_access", "break_glass", "my_requests"]
CHILD_PAGES = ["search", "record", "add_involvement", "move"]  # the search issue's pages, same guards
ADMIN_LIST_PAGES = ["console", "practitioner_list", "access_requests", "break_glass_reviews"]
ADMIN_OBJECT_PAGES = ["practitioner_detail", "approve", "suspend", "reinstate", "vetting",
                      "decide_access_request", "review_break_glass", "reset_authenticator"]


@pytest.fixture
def urls(cast):
    """One URL per page, pointing at objects of ``cast.la``."""
    request = AccessRequest.objects.create(practitioner=cast.practitioner, child=cast.child, reason="Assessment visit")
    glass = AccessGrant.objects.create(
        practitioner=cast.practitioner, child=cast.child, source=AccessGrant.Source.BREAK_GLASS,
        reason="Child reported missing tonight", expires_at=timezone.now() + timedelta(hours=24))
    ref = {"reference": cast.child.reference}
    pk = {"pk": cast.pending.pk}
    return {
        "request_access": reverse("practitioners:request_access", kwargs=ref),
        "break_glass": reverse("practitioners:break_glass", kwargs=ref),
        "my_requests": reverse("practitioners:my_requests"),
        "search": reverse("children:search"),
        "record": reverse("children:record", kwargs=ref),
        "add_involvement": reverse("children:add_involvement", kwargs=ref),
        "move": reverse("children:move", kwargs=ref),
        "console": reverse("practitioners:console"),
        "practitioner_list": reverse("practitioners:practitioner_list"),
        "access_requests": reverse("practitioners:access_requests"),
        "break_glass_reviews": reverse("practitioners:break_glass_reviews"),
        "practitioner_detail": reverse("practitioners:practitioner_detail", kwargs=pk),
        "approve": reverse("practitioners:approve", kwargs=pk),
        "suspend": reverse("practitioners:suspend", kwargs=pk),
        "reinstate": reverse("practitioners:reinstate", kwargs=pk),
        "vetting": reverse("practitioners:vetting", kwargs=pk),
        "reset_authenticator": reverse("practitioners:reset_authenticator", kwargs=pk),
        "decide_access_request": reverse("practitioners:decide_access_request", kwargs={"pk": request.pk}),
        "review_break_glass": reverse("practitioners:review_break_glass", kwargs={"pk": glass.pk}),
    }


ADMIN_PAGES = ADMIN_LIST_PAGES + ADMIN_OBJECT_PAGES
ALL_PAGES = PRACTITIONER_PAGES + CHILD_PAGES + ADMIN_PAGES


@pytest.mark.parametrize("page", ALL_PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, urls, page):
    response = client.get(urls[page])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor:login") + "?next=")


@pytest.mark.parametrize("page", ALL_PAGES)
def test_a_password_only_session_without_an_authenticator_is_sent_to_set_one_up(client, cast, urls, page):
    user = cast.admin.user if page in ADMIN_PAGES else cast.practitioner.user
    client.force_login(user)
    response = client.get(urls[page])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor:setup") + "?next=")


@pytest.mark.parametrize("page", ALL_PAGES)
def test_a_session_that_skipped_the_code_is_refused_even_with_an_authenticator(client, cast, urls, page):
    user = cast.admin.user if page in ADMIN_PAGES else cast.practitioner.user
    enrol(user)
    client.force_login(user)
    response = client.get(urls[page])
    assert response.status_code == 403
    assert b"code from your authenticator app" in response.content
    assert AccessEvent.objects.filter(action="access.refused", actor_id=user.pk, outcome="denied").exists()


@pytest.mark.parametrize("page", PRACTITIONER_PAGES)
@pytest.mark.parametrize("who", ["admin", "auditor", "pending"])
def test_practitioner_pages_refuse_other_roles_and_unapproved_accounts(as_user, cast, urls, page, who):
    user = {"admin": cast.admin.user, "auditor": cast.auditor, "pending": cast.pending.user}[who]
    response = as_user(user).get(urls[page])
    assert response.status_code == 403
    assert AccessEvent.objects.filter(action="access.refused", actor_id=user.pk).exists()


@pytest.mark.parametrize("page", CHILD_PAGES)
@pytest.mark.parametrize("who", ["auditor", "pending"])
def test_child_pages_refuse_auditors_and_unapproved_accounts(as_user, cast, urls, page, who):
    user = {"auditor": cast.auditor, "pending": cast.pending.user}[who]
    response = as_user(user).get(urls[page])
    assert response.status_code == 403 and cast.child.family_name.encode() not in response.content
    assert AccessEvent.objects.filter(action="access.refused", actor_id=user.pk).exists()


def test_a_pending_practitioner_is_told_their_account_awaits_approval(as_user, cast, urls):
    response = as_user(cast.pending.user).get(urls["my_requests"])
    assert response.status_code == 403
    assert b"waiting for approval" in response.content


def test_a_practitioner_whose_training_lapsed_is_refused(as_user, cast, urls):
    cast.practitioner.training_completed_on = timezone.localdate() - timedelta(days=5000)
    cast.practitioner.save()
    response = as_user(cast.practitioner.user).get(urls["my_requests"])
    assert response.status_code == 403
    assert b"out of date" in response.content


@pytest.mark.parametrize("page", ADMIN_LIST_PAGES + ADMIN_OBJECT_PAGES)
@pytest.mark.parametrize("who", ["practitioner", "auditor"])
def test_admin_pages_refuse_practitioners_and_auditors(as_user, cast, urls, page, who):
    user = cast.practitioner.user if who == "practitioner" else cast.auditor
    assert as_user(user).get(urls[page]).status_code == 403


@pytest.mark.parametrize("page", ADMIN_OBJECT_PAGES)
def test_another_local_authoritys_admin_is_refused(as_user, cast, urls, page):
    response = as_user(cast.other_admin.user).get(urls[page])
    assert response.status_code == 403
    assert b"another local authority" in response.content


@pytest.mark.parametrize("page", ADMIN_OBJECT_PAGES)
def test_another_local_authoritys_admin_cannot_post_either(as_user, cast, urls, page):
    client = as_user(cast.other_admin.user)
    response = client.post(urls[page], {"reason": "x", "decision": "approve", "outcome": "justified"})
    assert response.status_code == 403
    cast.pending.refresh_from_db()
    assert cast.pending.status == "pending"


@pytest.mark.parametrize("page", ADMIN_LIST_PAGES)
def test_another_local_authoritys_admin_sees_none_of_this_las_people(as_user, cast, urls, page):
    response = as_user(cast.other_admin.user).get(urls[page])
    assert response.status_code == 200
    body = response.content.decode()
    assert cast.pending.user.username not in body and cast.child.reference not in body
    assert cast.pending.user.last_name not in body


@pytest.mark.parametrize("page", ADMIN_LIST_PAGES + ADMIN_OBJECT_PAGES)
def test_the_las_own_admin_sees_each_page_and_the_view_is_audited(as_user, cast, urls, page):
    before = AccessEvent.objects.count()
    response = as_user(cast.admin.user).get(urls[page])
    assert response.status_code == 200
    assert b"govuk-template" in response.content
    assert AccessEvent.objects.count() > before
    assert AccessEvent.objects.filter(actor_id=cast.admin.user.pk).exclude(action="login.success").exists()


@pytest.mark.parametrize("page", PRACTITIONER_PAGES)
def test_a_vetted_practitioner_reaches_their_pages_and_the_view_is_audited(as_user, cast, page):
    AccessRequest.objects.all().delete()
    url = {"request_access": reverse("practitioners:request_access", kwargs={"reference": cast.child.reference}),
           "break_glass": reverse("practitioners:break_glass", kwargs={"reference": cast.child.reference}),
           "my_requests": reverse("practitioners:my_requests")}[page]
    response = as_user(cast.practitioner.user).get(url)
    assert response.status_code == 200
    action = {"request_access": "access_request.start", "break_glass": "break_glass.start",
              "my_requests": "access_request.list_own"}[page]
    assert AccessEvent.objects.filter(action=action, actor_id=cast.practitioner.user.pk).exists()


def test_the_console_is_refused_to_an_la_admin_who_administers_no_authority(as_user, cast):
    from practitioners import roles
    from tests import factories

    lapsed = factories.UserFactory(roles=[roles.LA_ADMIN])
    assert as_user(lapsed).get(reverse("practitioners:console")).status_code == 403


def test_a_service_refuses_another_las_admin_even_when_called_directly(cast):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.suspend_practitioner(practitioner=cast.practitioner, reason="Not mine to suspend",
                                      context=RequestContext(user=cast.other_admin.user))
