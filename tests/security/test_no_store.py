"""No browser, proxy or back button keeps a page or API answer: ``Cache-Control: no-store`` on every
response but static files, walked over every route of the URL map (signpost.middleware.NoStoreMiddleware)."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.audit.test_every_view_is_audited import CASES, NOT_AUDITED, url_names, world  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def send(client, login_verified, world, name, case):
    headers = {}
    if case.auth == "feed":
        headers = {"HTTP_AUTHORIZATION": f"Token {world[case.user]}", "content_type": "application/json"}
    elif case.auth == "token":
        headers = {"HTTP_AUTHORIZATION": f"Token {Token.objects.get(user=world[case.user]).key}"}
    elif case.user is not None:
        login_verified(client, world[case.user])
    url = case.url(world) if case.url else reverse(name)
    return getattr(client, case.method)(url, case.data(world), **headers)


def test_every_page_and_api_answer_says_no_store(client, login_verified, world):
    """Each route as the audit walk calls it (tests/audit/test_every_view_is_audited.py), in one world."""
    for name, case in CASES:
        client.logout()
        response = send(client, login_verified, world, name, case)
        assert response.status_code < 500, name
        assert response["Cache-Control"] == "no-store", name


def test_refusals_say_no_store_too(client, world):
    """Signed out (or with no token), every route's login redirect, 401 or 403 is not cached either."""
    for name, case in CASES:
        url = case.url(world) if case.url else reverse(name)
        response = getattr(client, case.method)(url, {})
        assert response["Cache-Control"] == "no-store", name


@pytest.mark.parametrize("name", sorted(n for n in NOT_AUDITED if n != "static" and "reset_confirm" not in n))
def test_the_public_pages_say_no_store(client, name):
    assert client.get(reverse(name))["Cache-Control"] == "no-store"


def test_not_found_and_bad_requests_say_no_store(client):
    assert client.get("/children/C-AAAAA-AAAA%00/")["Cache-Control"] == "no-store"
    assert client.get("/no-such-page/")["Cache-Control"] == "no-store"


def test_static_files_stay_cacheable(client):
    response = client.get("/static/signpost/signpost.css")
    assert response.status_code == 200 and "no-store" not in response.get("Cache-Control", "")


def test_every_url_of_the_map_is_walked_here():
    """The walk above covers every named route (the audit table is kept complete by its own test)."""
    walked = {name for name, _ in CASES} | set(NOT_AUDITED)
    assert all(any(n == w or (w.endswith(":*") and n.startswith(w[:-1])) for w in walked) for n in url_names())

