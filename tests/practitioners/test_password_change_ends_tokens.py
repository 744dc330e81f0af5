"""SPEC 8: a DRF token must not survive a password change."""

import pytest
from rest_framework.authtoken.models import Token

from audit.models import AccessEvent
from tests import factories

pytestmark = pytest.mark.django_db


def test_changing_the_password_deletes_the_users_api_tokens_and_is_audited():
    practitioner = factories.PractitionerFactory()
    user = practitioner.user
    Token.objects.create(user=user)
    user.set_password("a-new-long-passphrase-2026")
    user.save()
    assert not Token.objects.filter(user=user).exists()
    event = AccessEvent.objects.get(action="token.revoke_all")
    assert event.actor_id == user.pk and event.details == {"tokens": 1}


def test_saving_the_user_without_a_new_password_keeps_the_token():
    user = factories.PractitionerFactory().user
    token = Token.objects.create(user=user)
    user.first_name = "Renamed"
    user.save()
    user.save(update_fields=["last_login"])
    assert Token.objects.filter(key=token.key).exists()
