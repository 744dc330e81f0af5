"""An auditor's afternoon in a real browser: sign in with a second factor, search the log, page through
it, download it, answer a subject access request and review a break-glass use."""

import csv
import io

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.context import RequestContext
from audit.models import AccessEvent, AnomalyReview
from audit.services import record_event
from practitioners import roles
from tests import factories
from tests.browser.conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def log(settings):
    settings.AUDIT_PAGE_SIZE = 5
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # live_server speaks plain http
    practitioner = factories.PractitionerFactory(user__username="pat", organisation__name="Riverside School")
    child = factories.ChildFactory(given_names="Philippa", family_name="Quartermaine", nhs_number="9434765919")
    as_pat = RequestContext(user=practitioner.user, ip_address="192.0.2.7", user_agent="Firefox")
    record_event(action="child.search", context=as_pat, disclosed_refs=[child.reference], details={"result_count": 1})
    for n in range(6):
        record_event(action="child.view", context=as_pat, child=child, reason=f"Visit {n}")
    record_event(action="grant.break_glass", context=as_pat, child=child, reason="=Police at the door")
    auditor = factories.UserFactory(username="audrey", password=PASSWORD, roles=[roles.AUDITOR])
    device = TOTPDevice.objects.create(user=auditor, name="default", confirmed=True)
    return {"child": child, "device": device}


def sign_in(page, base, device):
    page.goto(base + "/account/login/")
    page.fill("input[name='auth-username']", "audrey")
    page.fill("input[name='auth-password']", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.fill("input[name='token-otp_token']", f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Continue").click()


def test_an_auditor_works_through_the_log_without_seeing_who_the_child_is(live_server, page, log):
    child = log["child"]
    sign_in(page, live_server.url, log["device"])
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Audit log").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Access log"
    assert axe_violations(page) == []

    # Filter to the child and page back through its history by keyset.
    page.fill("#id_child_ref", child.reference)
    page.get_by_role("button", name="Apply filters").click()
    assert page.locator("tbody tr").count() == 5
    page.get_by_role("link", name="Older events").click()
    assert page.locator("tbody tr").count() == 2
    page.get_by_role("link", name="Newer events").click()
    assert page.locator("tbody tr").count() == 5

    # Download what the filter matches; the download is recorded, and formulas are defused.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these events as CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert len(rows) == 7 and {r["child_ref"] for r in rows} == {child.reference}
    assert "'=Police at the door" in {r["reason"] for r in rows}
    assert AccessEvent.objects.filter(action="audit.events.export", actor_username="audrey").exists()

    # A subject access request: who accessed this record, including the search that showed it.
    page.get_by_role("link", name="Who accessed a record").click()
    page.fill("#id_ref", child.reference.lower())
    page.get_by_role("button", name="Show who accessed it").click()
    assert page.get_by_role("heading", name=f"Record {child.reference}").is_visible()
    assert page.get_by_text("About this child").count() == 5
    page.get_by_role("link", name="Older events").click()
    assert page.get_by_text("In search results").count() == 1  # the oldest: the search that showed it
    assert axe_violations(page) == []

    # Review the break-glass use: a comment is required, the event stays as it was.
    page.get_by_role("link", name="Anomalies").click()
    assert axe_violations(page) == []
    page.locator("tbody").get_by_role("link", name="Review").click()
    page.get_by_role("button", name="Mark as reviewed").click()
    assert page.locator(".govuk-error-summary").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Enter what you found").click()
    page.keyboard.type("Rang the practitioner: police welfare check, genuine.")
    page.get_by_role("button", name="Mark as reviewed").click()
    assert page.get_by_text("Anomaly marked as reviewed.").is_visible()
    assert page.get_by_text("No events match.").is_visible()
    assert AnomalyReview.objects.get().comment.startswith("Rang the practitioner")

    for text in ["Philippa", "Quartermaine", "9434765919"]:
        assert text not in page.content()
