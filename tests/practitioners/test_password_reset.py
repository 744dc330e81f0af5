"""Forgotten password: a link by email, audited, throttled, and the second factor still asked."""

import re
import uuid

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from rest_framework.authtoken.models import Token

from audit.models import AccessEvent

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "copper-lantern-orchard-58"


def ask_for_link(client, email, **extra):
    """POST the form; the link is queued in its transaction and emailed after the commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("password_reset"), {"email": email}, **extra)


def emailed_link() -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1)


def test_a_practitioner_resets_their_password_through_the_emailed_link(client, cast):
    user = cast.practitioner.user
    user.email = "nurse@trust.example.org"
    user.save()
    Token.objects.create(user=user)
    assert "Forgotten your password?" in client.get(reverse("two_factor:login")).content.decode()

    response = ask_for_link(client, "nurse@trust.example.org")
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nurse@trust.example.org"]
    request_event = AccessEvent.objects.get(action="password.reset.request")
    assert request_event.details == {"accounts_emailed": 1}

    form_page = client.get(emailed_link(), follow=True)
    assert "Set a new password" in form_page.content.decode()
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    assert "authenticator app" in client.get(done["Location"]).content.decode()

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not Token.objects.filter(user=user).exists()  # a password change ends API tokens
    assert AccessEvent.objects.get(action="password.reset").actor_id == user.pk
    assert "_auth_user_id" not in client.session  # not signed in: the second factor is still to come


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, cast):
    response = ask_for_link(client, "nobody@example.org")
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []
    assert AccessEvent.objects.get(action="password.reset.request").details == {"accounts_emailed": 0}


def test_a_used_or_forged_link_is_explained_and_changes_nothing(client, cast):
    url = reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "forged-token"})
    page = client.get(url).content.decode()
    assert "This link does not work" in page and reverse("password_reset") in page
    assert not AccessEvent.objects.filter(action="password.reset").exists()


def test_asking_for_links_is_throttled_per_network_address_and_audited(client, cast, settings):
    settings.PASSWORD_RESET_RATE = "2/h"
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"
    for _ in range(2):
        assert ask_for_link(client, "nobody@example.org", REMOTE_ADDR=address).status_code == 302
    throttled = ask_for_link(client, "nobody@example.org", REMOTE_ADDR=address)
    assert throttled.status_code == 429 and "Too many password resets" in throttled.content.decode()
    assert AccessEvent.objects.get(action="access.refused").details["why"] == "password reset throttled"
