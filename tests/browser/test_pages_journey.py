"""Every journey page in a real browser: it reflows at 320 px wide (WCAG 1.4.10) with no horizontal scroll, fits
1280 px, and passes axe; the search hands focus to its results; the organisation is chosen by typing.

SIGNPOST_SCREENSHOTS=docs/screenshots scripts/screenshots regenerates the README's screenshots from here."""

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from audit.context import RequestContext
from audit.services import fingerprint, record_event
from practitioners import roles
from practitioners.models import AccessGrant, AccessRequest, Practitioner
from tests import factories
from tests.browser.conftest import axe_violations
from tests.conftest import verified_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NARROW = {"width": 320, "height": 640}
WIDE = {"width": 1280, "height": 900}


@pytest.fixture(autouse=True)
def _plain_http_cookies(settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # live_server speaks plain http


@pytest.fixture
def world():
    """One person in all three roles, in Hammersmith and Fulham, with a child of each kind to look at."""
    la = factories.LocalAuthorityFactory(name="Hammersmith and Fulham", safeguarding_contact="020 8753 6610",
                                         out_of_hours_phone="020 8748 8588")
    school = factories.OrganisationFactory(local_authority=la, name="Wormholt Park Primary School")
    school.services.add(factories.ServiceFactory(code="education", name="Education"))
    me = factories.PractitionerFactory(organisation=school, user__username="priya.shah", user__first_name="Priya",
                                       user__last_name="Shah")
    me.user.groups.add(*[factories._group(name) for name in (roles.LA_ADMIN, roles.AUDITOR)])
    factories.LAAdminFactory(user=me.user, local_authority=la)
    child = factories.ChildFactory(given_names="Kacper", family_name="Kociński", date_of_birth=date(2015, 3, 9),
                                   postcode="W12 7RJ", local_authority=la)
    # Long unbroken values (an NHS trust's name, a team mailbox) are what breaks reflow, so use real-sized ones.
    for organisation, service, email in [
            (school, "Early help", "earlyhelp@wormholtpark.example.org"),
            (factories.OrganisationFactory(local_authority=la, name="Central London Community Healthcare NHS Trust"),
             "School nursing", "clcht.schoolnursing.hammersmithandfulham@nhs.example.org")]:
        factories.InvolvementFactory(child=child, organisation=organisation, contact_phone="020 7946 0555",
                                     contact_email=email,
                                     service=factories.ServiceFactory(code=service.lower().replace(" ", "-"),
                                                                      name=service))
    from practitioners.services import involvement_access_pairs, sync_organisation_access
    sync_organisation_access(opened=involvement_access_pairs(list(child.involvements.all())),
                             context=RequestContext.system("test"))
    stranger = factories.ChildFactory(given_names="Amara", family_name="Okoye", local_authority=la)
    colleague = factories.PractitionerFactory(organisation=school, user__first_name="Tom", user__last_name="Hughes")
    pending = factories.PractitionerFactory(organisation=school, status=Practitioner.Status.PENDING,
                                            approved_at=None)
    request = AccessRequest.objects.create(practitioner=colleague, child=stranger, reason="New pupil on Monday")
    grant = AccessGrant.objects.create(practitioner=colleague, child=stranger, source=AccessGrant.Source.BREAK_GLASS,
                                       reason="Police report the child missing overnight",
                                       expires_at=timezone.now() + timedelta(hours=20))
    as_colleague = RequestContext(user=colleague.user, ip_address="192.0.2.7", user_agent="Firefox")
    record_event(action="grant.break_glass", context=as_colleague, child=stranger, reason=grant.reason,
                 details={"grant_id": grant.pk, "practitioner_id": colleague.pk})
    record_event(action="child.search", context=as_colleague, disclosed_refs=[child.reference],
                 details={"query_fingerprint": fingerprint("a query") * 3, "mode": "fuzzy", "result_count": 1})
    return {"me": me, "child": child, "stranger": stranger, "request": request, "grant": grant,
            "pending": pending, "colleague": colleague, "la": la}


def signed_in(page, live_server, user):
    client = verified_login(Client(), user)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}])
    return page


def search(page, base, *, given="", family="", dob=None, postcode=""):
    page.goto(base + "/children/search/")
    page.get_by_label("Given name").fill(given)
    page.get_by_label("Family name").fill(family)
    if dob:
        page.get_by_label("Day").fill(str(dob.day))
        page.get_by_label("Month").fill(str(dob.month))
        page.get_by_label("Year").fill(str(dob.year))
    page.get_by_label("Postcode").fill(postcode)
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#results").wait_for()


def overflow(page) -> int:
    """How far the page is wider than the window: 0 when nothing scrolls sideways."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def journey_pages(world):
    child, stranger = world["child"], world["stranger"]
    return {
        "record": child.get_absolute_url(),
        "no grant": stranger.get_absolute_url(),
        "request access": f"/practitioners/children/{stranger.reference}/request-access/",
        "break glass": f"/practitioners/children/{stranger.reference}/break-glass/",
        "add involvement": f"/children/{child.reference}/involvements/new/",
        "contact": f"/children/{child.reference}/contact/",
        "my requests": "/practitioners/my-requests/",
        "console": "/practitioners/console/",
        "practitioners": "/practitioners/console/practitioners/",
        "practitioner": f"/practitioners/console/practitioners/{world['colleague'].pk}/",
        "approve": f"/practitioners/console/practitioners/{world['pending'].pk}/approve/",
        "new account": "/practitioners/console/practitioners/new/",
        "access requests": "/practitioners/console/access-requests/",
        "decide": f"/practitioners/console/access-requests/{world['request'].pk}/",
        "break-glass uses": "/practitioners/console/break-glass/",
        "review break-glass": f"/practitioners/console/break-glass/{world['grant'].pk}/",
        "audit log": "/audit/",
        "who accessed": f"/audit/who-accessed/?ref={child.reference}",
        "anomalies": "/audit/anomalies/",
        "feeds": "/feeds/",
        "upload": "/feeds/uploads/",
        "sign-in security": "/account/two_factor/",
        "your sessions": "/practitioners/sessions/",
        "not found": "/children/C-XXXXX-XXXXX/",
    }


def test_every_journey_page_reflows_at_320_pixels_and_passes_axe(live_server, page, world):
    signed_in(page, live_server, world["me"].user)
    page.set_viewport_size(NARROW)
    problems = {}

    def check(name):
        if overflow(page) > 0:
            problems[name] = f"{overflow(page)} px too wide"
        violations = [v for v in axe_violations(page)]
        if violations:
            problems[f"{name} (axe)"] = violations

    search(page, live_server.url, given="Kasper", family="Kocinsky", dob=date(2015, 3, 9))
    check("search results")
    search(page, live_server.url, family="Nobody", postcode="W12 9ZZ")
    check("no match")
    for name, path in journey_pages(world).items():
        page.goto(live_server.url + path)
        check(name)
    assert problems == {}


def test_signed_out_pages_reflow_at_320_pixels_and_pass_axe(live_server, page, world):
    page.set_viewport_size(NARROW)
    for path in ("/", "/account/login/", "/practitioners/register/", "/account/password-reset/", "/nowhere/"):
        page.goto(live_server.url + path)
        assert overflow(page) == 0, path
        assert axe_violations(page) == [], path


def test_at_1280_pixels_no_page_is_wider_than_the_window_even_with_long_hashes(live_server, page, world):
    signed_in(page, live_server, world["me"].user)
    page.set_viewport_size(WIDE)
    for path in ("/audit/", "/audit/anomalies/", f"/audit/who-accessed/?ref={world['child'].reference}",
                 world["child"].get_absolute_url()):
        page.goto(live_server.url + path)
        assert overflow(page) == 0, path
    page.goto(live_server.url + "/audit/")
    assert page.get_by_text("Search fingerprint:").first.is_visible()


def test_after_a_search_focus_is_on_the_results_and_the_form_is_folded_away(live_server, page, world):
    signed_in(page, live_server, world["me"].user)
    page.set_viewport_size(WIDE)
    search(page, live_server.url, given="Kacper", family="Kocinski", dob=date(2015, 3, 9))
    assert page.evaluate("document.activeElement.id") == "results"
    assert page.locator("#results").is_visible() and page.locator("#results").bounding_box()["y"] < 900
    assert not page.get_by_label("Family name").is_visible()  # folded into "Change search"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Kacper Kociński"  # one Tab to the first result
    page.get_by_text("Change search").click()
    assert page.get_by_label("Family name").input_value() == "Kocinski"
    assert axe_violations(page) == []


def test_the_folded_search_form_opens_without_javascript(live_server, chromium, world):
    context = chromium.new_context(java_script_enabled=False)
    page = signed_in(context.new_page(), live_server, world["me"].user)
    search(page, live_server.url, family="Nobody", postcode="W12 9ZZ")
    assert page.get_by_text("For postcode district W12: Hammersmith and Fulham").is_visible()
    page.get_by_text("Change search").click()
    page.get_by_label("Family name").fill("Kociński")
    page.get_by_label("Postcode").fill("W12 7RJ")
    page.get_by_role("button", name="Search", exact=True).click()
    assert page.get_by_role("link", name="Kacper Kociński", exact=True).is_visible()
    context.close()


def test_a_new_practitioner_registers_choosing_their_organisation_by_typing(live_server, page, world):
    factories.OrganisationFactory(name="Wendell Park Primary School", local_authority=world["la"])
    page.goto(live_server.url + "/practitioners/register/")
    combobox = page.get_by_role("combobox", name="Organisation you work for")
    combobox.fill("Wormholt")
    page.get_by_role("option", name="Wormholt Park Primary School (Hammersmith and Fulham)").click()
    assert axe_violations(page) == []
    for label, value in (("First name", "Amara"), ("Last name", "Okoye"), ("Work email address", "a.okoye@example.org"),
                         ("Job title", "Class teacher"), ("Work phone number", "020 7946 0555")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Password", exact=True).fill("a long and unusual passphrase 42")
    page.get_by_label("Confirm password").fill("a long and unusual passphrase 42")
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Registration received").wait_for()
    assert Practitioner.objects.get(user__email="a.okoye@example.org").organisation.name == \
        "Wormholt Park Primary School"


def test_without_javascript_the_organisation_is_an_ordinary_select(live_server, chromium, world):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + "/practitioners/register/")
    page.get_by_label("Organisation you work for").select_option(
        label="Wormholt Park Primary School (Hammersmith and Fulham)")
    assert page.get_by_role("combobox").count() == 1  # the <select> itself
    context.close()


def test_screenshots_for_the_readme(live_server, page, world, tmp_path):
    """Search results, a child record, the LA admin home and the auditors' anomaly view."""
    target = Path(os.environ.get("SIGNPOST_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    signed_in(page, live_server, world["me"].user)
    page.set_viewport_size({"width": 1200, "height": 800})
    search(page, live_server.url, given="Kasper", family="Kocinsky", dob=date(2015, 3, 9))
    page.evaluate("document.activeElement.blur()")
    shots = {"search-results.png": None, "child-record.png": world["child"].get_absolute_url(),
             "la-admin-home.png": "/practitioners/console/", "anomalies.png": "/audit/anomalies/"}
    for name, path in shots.items():
        if path:
            page.goto(live_server.url + path)
        page.screenshot(path=str(target / name), full_page=True)
        assert (target / name).stat().st_size > 10_000
