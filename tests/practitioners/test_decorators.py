"""The guards other apps use: role_required and practitioner_required on plain views."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse

from practitioners import roles
from practitioners.decorators import practitioner_required, role_required, signed_in_required
from practitioners.models import Practitioner

pytestmark = pytest.mark.django_db


@role_required(roles.AUDITOR)
def audit_page(request):
    return HttpResponse("audit")


@practitioner_required
def search_page(request):
    return HttpResponse(f"practitioner {request.practitioner.pk}")


@signed_in_required
def any_role_page(request):
    return HttpResponse("signed in")


def call(rf, view, user, *, verified=True):
    request = rf.get("/page")
    if user is not None:
        user.is_verified = lambda: verified
    request.user = user if user is not None else AnonymousUser()
    return view(request)


def test_role_required_admits_a_verified_auditor_only(rf, cast):
    assert call(rf, audit_page, cast.auditor).status_code == 200
    assert call(rf, audit_page, cast.admin.user).status_code == 403
    assert call(rf, audit_page, cast.practitioner.user).status_code == 403
    assert call(rf, audit_page, None).status_code == 302


def test_practitioner_required_hands_the_view_the_practitioner(rf, cast):
    response = call(rf, search_page, cast.practitioner.user)
    assert response.content.decode() == f"practitioner {cast.practitioner.pk}"
    assert call(rf, search_page, cast.auditor).status_code == 403


def test_an_unknown_role_is_a_programming_error():
    with pytest.raises(ValueError):
        role_required("Superhero")


def test_signed_in_required_admits_every_verified_role_and_leaves_the_rest_to_the_view(rf, cast):
    for user in (cast.auditor, cast.admin.user, cast.practitioner.user):
        assert call(rf, any_role_page, user).status_code == 200
    assert call(rf, any_role_page, None).status_code == 302
    Practitioner.objects.filter(pk=cast.practitioner.pk).update(status=Practitioner.Status.SUSPENDED)
    assert call(rf, any_role_page, cast.practitioner.user).status_code == 403
