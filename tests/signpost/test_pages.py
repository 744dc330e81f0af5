import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_landing_page_explains_the_service_and_offers_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"Find who is working with a child" in response.content
    assert reverse("two_factor:login").encode() in response.content


def test_every_page_carries_a_content_security_policy(client):
    response = client.get(reverse("home"))
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "cdn" not in response.content.decode().lower()


def test_the_login_page_renders_in_the_service_layout(client):
    response = client.get(reverse("two_factor:login"))
    assert response.status_code == 200
    assert b"govuk-template" in response.content


def test_health_check_answers_without_personal_data(client):
    assert client.get(reverse("healthz")).json() == {"status": "ok"}


def test_static_assets_are_served_by_the_app_itself(client):
    from django.contrib.staticfiles import finders

    assert finders.find("govuk/govuk-frontend.min.css")
    assert finders.find("govuk/assets/fonts/bold-b542beb274-v2.woff2")
