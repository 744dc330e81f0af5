"""The front door in a real browser: landing page, sign-in form, accessibility."""

import pytest

from tests.browser.conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_visitor_reaches_the_sign_in_form_from_the_landing_page(live_server, page):
    page.goto(live_server.url + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Find who is working with a child"
    assert page.evaluate("document.body.classList.contains('govuk-frontend-supported')")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator("input[name='auth-username']").is_visible()
    assert axe_violations(page) == []


def test_the_landing_page_meets_wcag_aa(live_server, page):
    page.goto(live_server.url + "/")
    assert axe_violations(page) == []


def test_a_visitor_who_forgot_their_password_asks_for_a_link_accessibly(live_server, page):
    page.goto(live_server.url + "/account/login/")
    page.get_by_role("link", name="Forgotten your password?").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Reset your password"
    assert axe_violations(page) == []
    page.get_by_role("button", name="Send a reset link").click()  # no address: the error summary
    assert page.get_by_text("There is a problem").is_visible()
    assert axe_violations(page) == []
    page.get_by_label("Email").fill("someone@example.org")
    page.get_by_role("button", name="Send a reset link").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Check your email"
    assert axe_violations(page) == []
