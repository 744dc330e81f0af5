"""IsVettedPractitioner: the API's gate follows the web's rules, re-read on every request."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import RequestContext
from practitioners import services
from practitioners.api_permissions import IsVettedPractitioner
from practitioners.models import Practitioner

pytestmark = pytest.mark.django_db


class Probe(APIView):
    permission_classes = [IsVettedPractitioner]

    def get(self, request):
        return Response({"ok": True})


@pytest.fixture
def call():
    def get(*, token=None, user=None):
        from rest_framework.test import APIRequestFactory, force_authenticate

        request = APIRequestFactory().get("/probe", HTTP_AUTHORIZATION=f"Token {token.key}" if token else "")
        if user is not None:
            force_authenticate(request, user=user)
        return Probe.as_view()(request).status_code
    return get


def test_an_active_practitioners_token_is_accepted(call, cast):
    assert call(token=Token.objects.create(user=cast.practitioner.user)) == 200


@pytest.mark.parametrize("change", ["pending", "lapsed", "inactive", "not_a_practitioner"])
def test_a_token_stops_working_as_soon_as_the_account_may_not_search(call, cast, change):
    user = cast.practitioner.user
    token = Token.objects.create(user=user)
    if change == "pending":
        Practitioner.objects.filter(pk=cast.practitioner.pk).update(status=Practitioner.Status.PENDING)
    elif change == "lapsed":
        Practitioner.objects.filter(pk=cast.practitioner.pk).update(
            vetting_expires_on=timezone.localdate() - timedelta(days=1))
    elif change == "inactive":
        type(user).objects.filter(pk=user.pk).update(is_active=False)
    else:
        token = Token.objects.create(user=cast.admin.user)
    assert call(token=token) in (401, 403)


def test_suspension_deletes_the_token(call, cast):
    token = Token.objects.create(user=cast.practitioner.user)
    services.suspend_practitioner(practitioner=cast.practitioner, reason="Misuse",
                                  context=RequestContext(user=cast.admin.user))
    assert call(token=token) == 401


def test_a_session_call_needs_the_verified_second_factor(call, cast):
    """Without a token, the session user must have passed the code, as on the web pages."""
    assert call(user=cast.practitioner.user) == 403
    cast.practitioner.user.is_verified = lambda: True
    assert call(user=cast.practitioner.user) == 200


def test_anonymous_calls_are_refused(call):
    assert call() in (401, 403)
