"""The data-quality dashboard: per organisation, last feed, rows per week, error rate, stale open
involvements and children with nothing open; only the admin's own area."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from children.models import Involvement
from feeds import selectors
from feeds.models import FeedBatch
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def area(organisation, school_nursing):
    now = timezone.now()
    la = organisation.local_authority
    quiet = factories.OrganisationFactory(name="Quiet Academy", local_authority=la)
    FeedBatch.objects.create(organisation=organisation, source="api", received_at=now - timedelta(days=2), rows=300,
                             created=290, errors=10)
    FeedBatch.objects.create(organisation=organisation, source="csv", received_at=now - timedelta(days=20), rows=100,
                             errors=30)
    FeedBatch.objects.create(organisation=organisation, source="api", received_at=now - timedelta(days=90), rows=5000,
                             errors=5000)  # outside the four-week window
    fresh = factories.InvolvementFactory(organisation=organisation, service=school_nursing)
    stale = factories.InvolvementFactory(organisation=organisation, service=school_nursing)
    Involvement.objects.filter(pk=stale.pk).update(last_confirmed_at=now - timedelta(days=250))
    ended = factories.InvolvementFactory(organisation=organisation, service=school_nursing,
                                         ended_on=date(2024, 6, 1),
                                         child=factories.ChildFactory(local_authority=la))
    factories.ChildFactory(local_authority=la)  # no involvement at all
    return {"fresh": fresh, "stale": stale, "ended": ended, "quiet": quiet, "now": now}


def test_the_figures_per_organisation(organisation, area):
    report = selectors.data_quality(authorities=[organisation.local_authority], now=area["now"], stale_months=6)
    rows = {r.organisation.name: r for r in report.organisations}
    busy = rows[organisation.name]
    assert busy.last_feed_at == FeedBatch.objects.order_by("-received_at").first().received_at
    assert busy.rows_last_week == 300
    assert busy.rows_per_week == 100  # 400 rows in the last four weeks
    assert busy.error_rate == pytest.approx(40 / 400)
    assert (busy.open_involvements, busy.stale_involvements, busy.children_without_open) == (2, 1, 1)
    quiet = rows["Quiet Academy"]
    assert (quiet.last_feed_at, quiet.rows_per_week, quiet.error_rate) == (None, 0, None)
    assert report.children_without_open_in_area == 2


def test_the_stale_threshold_is_chosen_in_months(organisation, area):
    report = selectors.data_quality(authorities=[organisation.local_authority], now=area["now"], stale_months=12)
    assert report.organisations[1].stale_involvements == 0


def test_the_page_shows_the_figures_and_refuses_a_nonsense_threshold(client, login_verified, la_admin, area,
                                                                     organisation):
    login_verified(client, la_admin)
    body = client.get(reverse("feeds:quality")).content.decode()
    assert organisation.name in body and "Quiet Academy" in body and "10%" in body and "Never" in body
    response = client.get(reverse("feeds:quality"), {"months": "0"})
    assert response.status_code == 400 and "Enter a number of months from 1 to 36." in response.content.decode()


def test_another_areas_organisations_are_not_counted(organisation, area):
    elsewhere = factories.OrganisationFactory()
    FeedBatch.objects.create(organisation=elsewhere, source="api", rows=10)
    report = selectors.data_quality(authorities=[organisation.local_authority], now=timezone.now(), stale_months=6)
    assert elsewhere.name not in {r.organisation.name for r in report.organisations}


def test_months_before_keeps_to_real_dates():
    moment = timezone.now().replace(year=2026, month=3, day=31)
    assert selectors.months_before(moment, 1).date() == date(2026, 2, 28)
    assert selectors.months_before(moment, 15).date() == date(2024, 12, 31)
