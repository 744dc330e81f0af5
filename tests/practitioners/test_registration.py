"""Self-registration makes a pending practitioner who can sign in but see nothing until approved."""

import re
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from audit.models import AccessEvent
from practitioners import permissions, roles
from practitioners.models import Practitioner

pytestmark = pytest.mark.django_db


def form_data(cast, **overrides):
    data = {"first_name": "Amira", "last_name": "Okafor", "email": "amira.okafor@school.example.org",
            "organisation": cast.organisation.pk, "job_title": "Designated safeguarding lead",
            "work_phone": "020 7946 0123", "username": "aokafor", "password1": "violet-kettle-marathon-42",
            "password2": "violet-kettle-marathon-42"}
    data.update(overrides)
    return data


def test_registering_creates_a_pending_practitioner_in_the_practitioner_role(client, cast):
    page = client.get(reverse("practitioners:register"))
    assert page.status_code == 200 and cast.organisation.name in page.content.decode()
    response = client.post(reverse("practitioners:register"), form_data(cast))
    assert response.status_code == 302 and response["Location"] == reverse("practitioners:registered")
    practitioner = Practitioner.objects.get(user__email="amira.okafor@school.example.org")
    assert practitioner.status == Practitioner.Status.PENDING
    assert practitioner.organisation == cast.organisation and practitioner.work_email == "amira.okafor@school.example.org"
    assert roles.has_role(practitioner.user, roles.PRACTITIONER)
    assert not permissions.may_search(practitioner.user)
    change = practitioner.status_changes.get()
    assert (change.from_status, change.to_status) == ("", "pending")
    event = AccessEvent.objects.get(action="practitioner.register")
    assert event.actor_id == practitioner.user.pk and event.details["practitioner_id"] == practitioner.pk


def test_the_new_account_appears_in_its_las_console_only(as_user, cast, client):
    client.post(reverse("practitioners:register"), form_data(cast))
    client.logout()
    own = as_user(cast.admin.user).get(reverse("practitioners:practitioner_list"), {"status": "pending"})
    assert "Amira Okafor" in own.content.decode()
    other = as_user(cast.other_admin.user).get(reverse("practitioners:practitioner_list"))
    assert "Amira Okafor" not in other.content.decode()


@pytest.mark.parametrize("overrides, field, message", [
    ({"password1": "password123", "password2": "password123"}, "password1", "too common"),
    ({"password1": "short-pw", "password2": "short-pw"}, "password1", "too short"),
    ({"password2": "something-else-entirely"}, "password2", "do not match"),
    ({"organisation": ""}, "organisation", "required"),
])
def test_bad_answers_are_explained_on_the_form(client, cast, overrides, field, message):
    response = client.post(reverse("practitioners:register"), form_data(cast, **overrides))
    body = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in body and f'href="#id_{field}"' in body and message in body
    assert not Practitioner.objects.filter(user__first_name="Amira").exists()


def test_signpost_chooses_the_username_shows_it_once_and_emails_it(client, cast, mailoutbox,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("practitioners:register"), form_data(cast), follow=True)
    user = get_user_model().objects.get(email="amira.okafor@school.example.org")
    assert re.fullmatch(r"amira\.okafor\.\d{4}", user.username)
    assert f"Your username is <strong>{user.username}</strong>" in response.content.decode()
    assert [m.to for m in mailoutbox] == [["amira.okafor@school.example.org"]]
    assert user.username in mailoutbox[0].body
    assert user.username not in client.get(reverse("practitioners:registered")).content.decode()  # once only


def test_sign_up_never_says_whether_a_username_exists(client, cast):
    """Issue 17: the form used to answer "That username is taken". It has no username box now: a
    registrant sent with someone's username gets the same answer as anyone, and no account of that name."""
    existing = cast.pending.user.username
    page = client.get(reverse("practitioners:register")).content.decode()
    assert 'name="username"' not in page
    first = client.post(reverse("practitioners:register"), form_data(cast, username=existing))
    second = client.post(reverse("practitioners:register"), form_data(cast, username="nobody-has-this",
                                                                      email="x@school.example.org"))
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    assert get_user_model().objects.filter(username=existing).count() == 1
    assert not get_user_model().objects.filter(username="nobody-has-this").exists()


def test_chosen_usernames_are_plain_ascii_and_never_collide(cast, monkeypatch):
    from practitioners import services
    from practitioners.services import new_username

    names = {new_username(first_name="Zoë", last_name="Kociński-O'Reilly") for _ in range(50)}
    assert all(re.fullmatch(r"zoe\.kocinskioreilly\.\d{4,8}", n) for n in names)
    assert re.fullmatch(r"user\.\d{4}", new_username(first_name="李", last_name="王"))
    get_user_model().objects.create(username="X.Y.0001")  # taken, whatever its case
    draws = iter([1, 1, 2])
    monkeypatch.setattr(services, "secrets", SimpleNamespace(randbelow=lambda n: next(draws)))
    assert new_username(first_name="X", last_name="Y") == "x.y.0002"


def test_a_nul_byte_is_an_error_not_a_crash(client, cast):
    response = client.post(reverse("practitioners:register"), form_data(cast, job_title="Lead\x00"))
    assert response.status_code == 200
    assert not Practitioner.objects.filter(user__first_name="Amira").exists()


def test_sign_up_is_throttled_per_network_address_and_the_refusal_is_audited(client, cast, settings):
    import uuid

    settings.REGISTRATION_RATE = "2/h"
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"  # this test's own count
    url = reverse("practitioners:register")
    for n in range(2):
        response = client.post(url, form_data(cast, username=f"user{n}", email=f"u{n}@school.example.org"),
                               REMOTE_ADDR=address)
        assert response.status_code == 302
    response = client.post(url, form_data(cast, username="user2", email="u2@school.example.org"), REMOTE_ADDR=address)
    assert response.status_code == 429
    assert "Too many accounts have been asked for from your network" in response.content.decode()
    assert not Practitioner.objects.filter(user__email="u2@school.example.org").exists()
    refusal = AccessEvent.objects.get(action="access.refused")
    assert refusal.details["why"] == "registration throttled" and refusal.outcome == "denied"
    other = client.post(url, form_data(cast, username="user3", email="u3@school.example.org"), REMOTE_ADDR="192.0.2.9")
    assert other.status_code == 302  # another network is not held up
